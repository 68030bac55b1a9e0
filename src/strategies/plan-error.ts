/** A strategy refuses to plan: the settings cannot roll this fleet (bad input, not a bug). */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}
