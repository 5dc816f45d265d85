/** A mistake the user can fix (bad config, bad flag): printed as a message, never with a stack. */
export class UserError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UserError";
  }
}
