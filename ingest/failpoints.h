#pragma once

// Fault-injection points for the process-level fault tests (tests/fault_pause_zombie.py). They
// do nothing unless the environment variable SEGSTREAM_FAILPOINTS names them when the worker
// starts; a deployment never sets it.
//
//   SEGSTREAM_FAILPOINTS=stop-before-commit
//     SIGUSR2 arms a one-shot stop: the next time the worker has a batch produced and is about
//     to commit it to Redis, the whole process stops itself with SIGSTOP (a GC pause or a frozen
//     VM caught mid-commit). The test resumes it with SIGCONT once the group has moved on.
namespace segstream::ingest::failpoints {

// Reads SEGSTREAM_FAILPOINTS and installs the triggers it names. Call once, before the workers.
void InstallFromEnvironment();

// With a batch in hand, just before its commit: stops the process if armed (then disarms).
void MaybeStopBeforeCommit();

}  // namespace segstream::ingest::failpoints
