// The lab's token. `vnetd run` prints the page's address with it
// (`/?token=...`); the page takes it from there once, keeps it for this tab
// (sessionStorage belongs to this origin alone, its port included, where a
// cookie would be sent to every port of the host) and takes it out of the
// address bar. Fetches send it as `Authorization: Bearer`; the event
// stream and capture links, which cannot send a header, as `?token=`.

const KEY = 'vnetd-token';

function store(value) {
  try {
    sessionStorage.setItem(KEY, value);
  } catch (e) {
    // Storage off: the token lives as long as the page.
  }
}

function stored() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch (e) {
    return '';
  }
}

function takeFromAddress() {
  const params = new URLSearchParams(location.search);
  const given = params.get('token');
  if (!given) return stored();
  store(given);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  return given;
}

export const token = takeFromAddress();

/** Why an answer was refused, in words, when it was for want of the token. */
export const NO_TOKEN =
  'this page needs the lab’s token: open the address `vnetd run` printed (it ends in ?token=…)';

/** GET `path` with the token, never from the cache. */
export function api(path) {
  return fetch(path, { cache: 'no-store', headers: { Authorization: `Bearer ${token}` } });
}

/** `path` with the token in its query, for what cannot send a header. */
export function withToken(path) {
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
