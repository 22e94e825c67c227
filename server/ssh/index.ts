/**
 * server/ssh — the single SSH client module of Switchyard.
 *
 * Why one module: SSH-managed tools tend to grow several ad-hoc ssh2 clients, each skipping host-key
 * checks and interpolating values into shell strings (Dokploy has five, with CVEs to match). Here
 * every connection pins the host key (`SHA256:` fingerprint, mismatch → HostKeyMismatchError before
 * authentication), every interpolated value goes through `sh`/`quoteShellArg`, every failure is a
 * typed error with a literal `code`, and private keys stay in memory (never argv, env or logs).
 */
export {
  type ConnectSshOptions,
  connectSsh,
  type ExecOptions,
  type ExecResult,
  exec,
  SshConnection,
  type StreamOptions,
  type StreamResult,
  stream,
} from "./client";
export {
  HostKeyMismatchError,
  HostKeyNotPinnedError,
  isSshError,
  SshAbortError,
  SshAuthError,
  SshChannelError,
  SshConfigError,
  SshConnectError,
  SshConnectionClosedError,
  type SshError,
  type SshErrorCode,
  SshExecError,
  SshTimeoutError,
} from "./errors";
export {
  fingerprintOpenSshPublicKey,
  fingerprintSshPublicKey,
  isSshFingerprint,
  normalizeSshFingerprint,
} from "./fingerprint";
export { generateEd25519KeyPair, type SshKeyPair } from "./keygen";
export { quoteShellArg, sh } from "./quote";
