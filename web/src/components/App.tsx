// Sign-in gate: a token from the link's fragment (or pasted), then the signed-in shell.
import { useState } from "preact/hooks";
import { forgetToken, storeToken, takeTokenFromLocation } from "../auth.ts";
import { Shell } from "./Shell.tsx";
import { ErrorNote } from "./Notice.tsx";

export function App() {
  const [token, setToken] = useState<string | null>(takeTokenFromLocation);
  const [reason, setReason] = useState<string | null>(null);
  const signOut = (why: string | null) => {
    forgetToken();
    setReason(why);
    setToken(null);
  };
  if (!token) {
    return (
      <SignIn
        reason={reason}
        onToken={(t) => {
          storeToken(t);
          setReason(null);
          setToken(t);
        }}
      />
    );
  }
  return <Shell key={token} token={token} onSignOut={signOut} />;
}

function SignIn({ reason, onToken }: { reason: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <main class="sign-in">
      <h1>Insights chat</h1>
      <ErrorNote message={reason} />
      <p>
        Open the link your host application gave you, or the one <code>npm run cli -- demo</code> prints. You can also paste a bearer token
        here; it stays in this tab only.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <label for="token">Bearer token</label>
        <input id="token" name="token" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit" disabled={!value.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}
