// Autosave of the session in this browser (IndexedDB): the photo, the corrected lesions and
// the scale, so that a reload or a crash does not lose work. One session is kept.
const DB = "acnekit", STORE = "session", KEY = "current";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); resolve(req.result); };
    t.onerror = t.onabort = () => { db.close(); reject(t.error || new Error("storage failed")); };
  });
}

export const save = (session) => run("readwrite", (s) => s.put(session, KEY));
export const load = () => run("readonly", (s) => s.get(KEY));
export const clear = () => run("readwrite", (s) => s.delete(KEY));
