/** A mistake on the command line: printed with the usage, exit status 2. */
export class UsageError extends Error {}

/**
 * A command that could not do what was asked (a bad config, an existing
 * file): printed as `tsvisor: message`, exit status 1 as runc's.
 */
export class CommandError extends Error {
  constructor(message: string, readonly status = 1) {
    super(message);
  }
}
