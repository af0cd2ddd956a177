// Sign-in by link: `/app#token=<JWT>`. The fragment never reaches a server; the token moves to this tab's session
// storage (gone when the tab closes) and the fragment is cleared from the address bar and the history.

const KEY = "insights.token";

export function takeTokenFromLocation(): string | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const fromLink = params.get("token");
  if (fromLink) {
    sessionStorage.setItem(KEY, fromLink.trim());
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
