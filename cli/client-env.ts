// The environment tsvisor was given, back as it was. The native front end
// (native/front/tsvisor.c) moves NODE_EXTRA_CA_CERTS aside so that Node does
// not parse a certificate bundle at start-up that tsvisor never uses; it is
// put back here, before anything reads process.env or starts a process, so
// hooks and the programs tsvisor runs get it. tsvisor's own Node processes
// (the OCI daemon, exec's waiter) are started with it moved aside again.
const HIDDEN = 'NODE_EXTRA_CA_CERTS';
const SAVED = 'TSVISOR_SAVED_NODE_EXTRA_CA_CERTS';

const saved = process.env[SAVED];
if (saved !== undefined) {
  process.env[HIDDEN] = saved;
  delete process.env[SAVED];
}

/** The environment for a Node process of tsvisor's own: this one's, with the certificates moved aside as the front end does. */
export function ownNodeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  const certs = env[HIDDEN];
  if (certs !== undefined) {
    env[SAVED] = certs;
    delete env[HIDDEN];
  }
  return env;
}
