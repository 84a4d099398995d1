/** The message of anything thrown (an Error's message, else its string form), as logs and answers quote it; shared by the server and the SDK. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
