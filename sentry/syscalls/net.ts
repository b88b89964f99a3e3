// The socket calls (sentry/net/ does the work): the thin handlers that read
// the registers. Calls that name an address are carried out by the sentry
// on its own copy of the socket; socket, socketpair and the option calls are
// checked on their register arguments and then made by the kernel.
import { E } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { NetStack } from '../net/stack.js';
import { argSize } from './args.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

/** MAX_RW_COUNT: what one send moves at most (INT_MAX rounded down to a page). */
const MAX_RW_COUNT = 0x7ffff000;

function stack(k: Kernel): NetStack | null {
  return k.net;
}

function checked(r: number): SyscallReturn {
  return r < 0 ? r : CONTINUE;
}

export const netHandlers: HandlerTable = {
  socket: (k, t, trap) => checked(stack(k)?.checkSocket(t, trap.argI32(0), trap.argI32(1), trap.argI32(2)) ?? -E.ENOSYS),
  socketpair: (k, t, trap) => checked(stack(k)?.checkSocket(t, trap.argI32(0), trap.argI32(1), trap.argI32(2)) ?? -E.ENOSYS),
  setsockopt: (k, _t, trap) => checked(stack(k)?.checkOption(trap.argI32(1), trap.argI32(2), true) ?? -E.ENOSYS),
  getsockopt: (k, _t, trap) => checked(stack(k)?.checkOption(trap.argI32(1), trap.argI32(2), false) ?? -E.ENOSYS),
  connect: (k, t, trap) => stack(k)?.connect(k, t, trap, trap.argI32(0), trap.argPtr(1), trap.argI32(2)) ?? -E.ENOSYS,
  bind: (k, t, trap) => stack(k)?.bind(k, t, trap.argI32(0), trap.argPtr(1), trap.argI32(2)) ?? -E.ENOSYS,
  getsockname: (k, t, trap) => stack(k)?.name(k, t, trap, trap.argI32(0), trap.argPtr(1), trap.argPtr(2), false) ?? -E.ENOSYS,
  getpeername: (k, t, trap) => stack(k)?.name(k, t, trap, trap.argI32(0), trap.argPtr(1), trap.argPtr(2), true) ?? -E.ENOSYS,
  sendto: (k, t, trap) => {
    // A NULL address runs natively (the filter allows it); here only in strict mode.
    if (trap.argLo(4) === 0 && trap.argHi(4) === 0) return CONTINUE;
    const len = Math.min(argSize(trap, 2), MAX_RW_COUNT);
    return stack(k)?.sendTo(k, t, trap, trap.argI32(0), trap.argPtr(1), len, trap.argI32(3), trap.argPtr(4), trap.argI32(5)) ?? -E.ENOSYS;
  },
  sendmsg: (k, t, trap) => stack(k)?.sendMsg(k, t, trap, trap.argI32(0), trap.argPtr(1), trap.argI32(2)) ?? -E.ENOSYS,
  sendmmsg: (k, t, trap) => stack(k)?.sendMmsg(k, t, trap, trap.argI32(0), trap.argPtr(1), trap.argU32(2), trap.argI32(3)) ?? -E.ENOSYS,
};
