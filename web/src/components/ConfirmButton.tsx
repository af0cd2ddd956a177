// A destructive action asks once, in place: the question and two buttons, no browser dialog.
import { useState } from "preact/hooks";

interface Props {
  label: string;
  question: string;
  disabled: boolean;
  onConfirm: () => void;
}

export function ConfirmButton({ label, question, disabled, onConfirm }: Props) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    // biome-ignore lint/a11y/useSemanticElements: an inline group of two buttons inside a line of text; a fieldset is a form block
    <span class="confirm" role="group" aria-label={label}>
      {question}
      <button
        type="button"
        class="danger"
        disabled={disabled}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, delete
      </button>
      <button type="button" class="quiet" onClick={() => setAsking(false)}>
        Keep it
      </button>
    </span>
  );
}
