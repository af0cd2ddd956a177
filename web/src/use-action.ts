// The one way a control runs a request: busy while it runs, and its failure kept as a sentence to show beside it.
import { useState } from "preact/hooks";
import { messageOf } from "./api.ts";

interface Action {
  busy: boolean;
  error: string | null;
  clearError: () => void;
  /** Runs `work`; true when it succeeded, false when it failed (its error is then in `error`). */
  run: (work: () => Promise<void>) => Promise<boolean>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return {
    busy,
    error,
    clearError: () => setError(null),
    run: async (work) => {
      setBusy(true);
      setError(null);
      try {
        await work();
        return true;
      } catch (err) {
        setError(messageOf(err));
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}
