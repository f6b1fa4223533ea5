// The JSON API of acnekit serve: POST with a retry while the server is busy (503), errors as
// Error objects carrying the server's message.
export async function apiError(resp) {
  let detail = resp.statusText;
  try {
    const body = await resp.json();
    detail = body.detail || JSON.stringify(body);
  } catch (_) { /* not JSON */ }
  return new Error(`${detail} (HTTP ${resp.status})`);
}

export async function post(url, body, { tries = 5, onBusy = () => {} } = {}) {
  for (let i = 0; ; i++) {
    const resp = await fetch(url, body instanceof FormData ? { method: "POST", body }
      : { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    if (resp.status === 503 && i < tries) { // server busy: wait as it asks, then retry
      onBusy();
      await new Promise((r) => setTimeout(r, 1000 * (Number(resp.headers.get("Retry-After")) || 2)));
      continue;
    }
    if (!resp.ok) throw await apiError(resp);
    return resp;
  }
}

// SHA-256 of a Blob as lower-case hex; null where the browser has no WebCrypto (plain http
// to another computer is not a secure context).
export async function sha256(blob) {
  if (!(globalThis.crypto && crypto.subtle)) return null;
  const buf = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}
