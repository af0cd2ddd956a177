// The few HTML pages people see around Bull Board: the sign-in form and the refusals. Self-contained (no script,
// inline style only) and served with a CSP that allows nothing else, so they need no asset route of their own.
import type { Response } from "express";

const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f4f5f7; color: #1d2433; }
  main { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px rgba(0, 0, 0, .12); width: min(28rem, 90vw); }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  .problem { background: #fdecea; color: #8a1c12; padding: .6rem .8rem; border-radius: 4px; }
  label { display: block; font-weight: 600; margin: 1rem 0 .3rem; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; }
  button { margin-top: 1rem; padding: .5rem 1.2rem; font: inherit; cursor: pointer; }
  code { background: #eef0f3; padding: 0 .25rem; border-radius: 3px; }
</style>
</head>
<body><main>
${body}
</main></body>
</html>
`;
}

export function sendPage(res: Response, status: number, html: string): void {
  res
    .status(status)
    .set({ "Content-Security-Policy": CSP, "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8" })
    .send(html);
}

/** The sign-in form; `problem` says why the last attempt (or the visit) was refused. */
export function loginPage(action: string, problem?: string): string {
  return page(
    "Sign in — queue dashboard",
    `<h1>Queue dashboard: sign in</h1>
${problem ? `<p class="problem" role="alert">${escapeHtml(problem)}</p>` : ""}
<form method="post" action="${escapeHtml(action)}">
  <label for="token">Bearer token</label>
  <input id="token" name="token" type="password" autocomplete="off" required autofocus>
  <button type="submit">Sign in</button>
</form>
<p>For operators named in <code>OPS_ADMINS</code>. Get a short-lived token with
<code>npm run -s cli -- token --user &lt;your email&gt; --ttl-hours 1</code>.</p>`,
  );
}

/** Signed in, but not as an operator: say so, and offer to sign in as someone else. */
export function forbiddenPage(logoutAction: string, message: string): string {
  return page(
    "Not allowed — queue dashboard",
    `<h1>Not allowed</h1>
<p class="problem" role="alert">${escapeHtml(message)}</p>
<form method="post" action="${escapeHtml(logoutAction)}"><button type="submit">Sign out and use another token</button></form>`,
  );
}
