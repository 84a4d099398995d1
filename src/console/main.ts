import { ApiError, admin, token, whenUnauthorized } from './api.ts';
import { button, h, replace } from './dom.ts';
import { groupsPage } from './groups.ts';
import { overviewPage } from './overview.ts';
import type { Page } from './page.ts';
import { subscriptionsPage } from './subscriptions.ts';

/** How often the page shown reads its numbers again. */
const REFRESH_MS = 5000;

const main = document.getElementById('main')!;
const nav = document.querySelector('nav')!;
const problem = document.getElementById('problem')!;
const updated = document.getElementById('updated')!;
const forget = document.getElementById('forget') as HTMLButtonElement;

const PAGES: Record<string, () => Page> = { overview: overviewPage, groups: groupsPage, subscriptions: subscriptionsPage };
let page: Page | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;

/** Reads the page's numbers now and then every REFRESH_MS, one reading at a time. */
async function refreshLoop(current: Page): Promise<void> {
  clearTimeout(timer);
  try {
    await current.refresh();
    if (current !== page) return;
    problem.textContent = '';
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (current !== page) return;
    // A 401 shows the sign-in instead (whenUnauthorized below); anything else stays on the page, retried.
    if (err instanceof ApiError && err.status === 401) return;
    problem.textContent = String(err);
  }
  timer = setTimeout(() => void refreshLoop(current), REFRESH_MS);
}

function show(): void {
  // Own keys only: `#constructor` is `in` every object literal.
  const name = Object.hasOwn(PAGES, location.hash.slice(1)) ? location.hash.slice(1) : 'overview';
  page = PAGES[name]!();
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} · ordered-sidecar console`;
  main.replaceChildren();
  page.mount(main);
  nav.hidden = false;
  forget.hidden = token.get() === null;
  void refreshLoop(page);
}

/** The sign-in: the admin API's own refusal, and a field for ADMIN_TOKEN. */
function signIn(refusal: ApiError): void {
  clearTimeout(timer);
  page = undefined;
  nav.hidden = true;
  forget.hidden = true;
  updated.textContent = '';
  problem.textContent = '';
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'refusal' });
  const form = h(
    'form',
    { 'aria-labelledby': 'sign-in-title' },
    h('label', { for: 'token' }, 'ADMIN_TOKEN'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    token.set(input.value);
    void start();
  });
  replace(
    main,
    h('h2', { id: 'sign-in-title' }, 'Sign in'),
    h('p', {}, 'The admin API answered:'),
    h('p', { id: 'refusal', class: 'error', role: 'alert' }, String(refusal)),
    form,
  );
  input.focus();
}

/** Shows the console if the admin API answers (with the token kept, or none needed), the sign-in if it refuses. */
async function start(): Promise<void> {
  try {
    await admin('GET', ['overview']);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // whenUnauthorized showed the sign-in
    replace(
      main,
      h('p', { class: 'error', role: 'alert' }, `The sidecar did not answer: ${String(err)}`),
      button('Try again', () => void start()),
    );
    return;
  }
  show();
  main.focus();
}

whenUnauthorized(signIn);
window.addEventListener('hashchange', () => {
  if (page === undefined) return;
  show();
  main.focus();
});
forget.addEventListener('click', () => {
  token.forget();
  void start();
});
void start();
