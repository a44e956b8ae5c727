/** The one error class a host-side caller sees. Guest/device misbehaviour is never an exception:
 *  it is modelled as hardware does it (UR/CA completions, fault records, NACKs). */
export type IovErrorCode =
  | "EINVAL" // malformed argument
  | "EBUSY" // resource in a state that forbids the change (e.g. VFs enabled)
  | "ERANGE" // value outside what the hardware supports
  | "ENOSPC" // address space or bus numbers exhausted
  | "ENODEV" // no such device / BDF
  | "EPERM" // operation not permitted (e.g. unsafe assignment)
  | "ENOENT" // no such file / attribute / driver
  | "EEXIST" // already exists (duplicate MAC, VF given twice)
  | "EIO" // device reported an inconsistent state
  | "ENOMEM" // not enough MMIO resources (Linux's error for IOV BARs)
  | "EFAULT" // bad address
  | "ENOSYS" // operation not supported by this device
  | "ELOOP"; // the simulation stopped advancing (a livelock in the model: reported, not hung)

export class IovError extends Error {
  override readonly name = "IovError";
  constructor(
    readonly code: IovErrorCode,
    message: string,
    readonly detail: Readonly<Record<string, unknown>> = {},
  ) {
    super(`${code}: ${message}`);
  }
}

export function isIovError(e: unknown, code?: IovErrorCode): e is IovError {
  return e instanceof IovError && (code === undefined || e.code === code);
}

/** Exhaustiveness check for `switch` over discriminated unions. */
export function assertNever(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
