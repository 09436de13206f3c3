import type { SourceLocation } from './findings.js';

/**
 * The guard itself cannot do its job (bad config, missing tool, unreadable ref).
 * Always exits 2 with this message; never shown as a stack trace.
 */
export class GuardError extends Error {
  constructor(
    message: string,
    readonly location?: SourceLocation,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'GuardError';
  }

  describe(): string {
    const where = this.location ? `${this.location.path}:${this.location.line}: ` : '';
    return `${where}${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}
