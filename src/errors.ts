// Errors that reach the user as one line. The CLI maps them to exit codes:
// UsageError → 2 (the command line is wrong), RnnError → 1 (something at run time went wrong).
// Library code throws these; it never prints and never exits.

/** A problem with what the user asked for: bad flag value, contradictory options. Exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A problem found while running: unreadable corpus, corrupt checkpoint, NaN loss, disk full. Exit code 1. */
export class RnnError extends Error {
  override name = "RnnError";
}
