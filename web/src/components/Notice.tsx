import type { ComponentChildren } from "preact";

/** An error, as a sentence; announced to screen readers as it appears. */
export function ErrorNote({ message, onDismiss }: { message: string | null; onDismiss?: () => void }) {
  if (!message) return null;
  return (
    <p class="notice error" role="alert">
      <span>{message}</span>
      {onDismiss && (
        <button type="button" class="link" onClick={onDismiss} aria-label="Dismiss this message">
          Dismiss
        </button>
      )}
    </p>
  );
}

export function InfoNote({ children, tone = "info" }: { children: ComponentChildren; tone?: "info" | "warn" }) {
  return (
    <p class={`notice ${tone}`} role="status">
      {children}
    </p>
  );
}
