// The dashboard: sign-in, then views chosen by the URL fragment, so the
// browser's back button, a reload and a shared link keep the user where they were.
//   #/                                          overview: totals, clusters, attention
//   #/clusters/<id>?kind=&namespace=…&as_of=    a cluster and its explorer
//   #/clusters/<id>/resources/<uid>             one resource: related objects, history
//   #/search?q=&kind=&…&image=                  fleet search and images
//   #/onboard                                   the cluster onboarding wizard
//   #/settings?action=&actor=                   tokens; members, credentials, audit (admins)
//
// Live: a view may ask to be refreshed (context.every); the overview and the
// cluster screens poll the API every POLL_SECONDS while they are shown.

import { ApiError, endSession, get, send, signIn, signOut, token } from "./api.js";
import { clusterPage } from "./cluster.js";
import { onboarding } from "./onboard.js";
import { overview } from "./overview.js";
import { resourceDetail } from "./resource.js";
import { fleetSearch } from "./search.js";
import { settings } from "./settings.js";

const view = document.getElementById("view");
const message = document.getElementById("message");
const signInSection = document.getElementById("sign-in");
const signInForm = document.getElementById("sign-in-form");
const signOutButton = document.getElementById("sign-out");
const who = document.getElementById("who");
const orgSwitch = document.getElementById("org-switch");

// Who is signed in (GET /me), asked once per page load and after an org switch.
let me = null;
const ADMIN_ROLES = ["admin", "owner"];

function canManageClusters() {
  return ADMIN_ROLES.includes(me?.organization?.role);
}

// Who, in which org as what role; the org switcher for a session in several orgs;
// controls only admins may use shown to admins only.
function showWho() {
  who.hidden = false;
  who.textContent = `${me.user?.email ?? ""} · ${me.organization.name} (${me.organization.role})`;
  const switchable = me.auth === "session" && me.organizations.length > 1;
  orgSwitch.hidden = !switchable;
  if (switchable) {
    orgSwitch.replaceChildren(...me.organizations.map((org) => {
      const option = document.createElement("option");
      option.value = org.id;
      option.textContent = `${org.name} (${org.role})`;
      option.selected = org.id === me.organization.id;
      return option;
    }));
  }
  for (const element of document.querySelectorAll("[data-needs='admin']")) element.hidden = !canManageClusters();
}

// Each render gets a number; a slow answer for a view the user already left is dropped.
let generation = 0;
// The current view's refresh timers, stopped when the user moves on.
let timers = [];

function stopTimers() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
}

function showMessage(text) {
  message.textContent = text;
  message.hidden = false;
}

function hideMessage() {
  message.hidden = true;
  message.textContent = "";
}

function showSignIn() {
  me = null;
  who.hidden = true;
  orgSwitch.hidden = true;
  for (const element of document.querySelectorAll("[data-needs='admin']")) element.hidden = true;
  signInSection.hidden = false;
  signOutButton.hidden = true;
  view.replaceChildren();
  document.getElementById("token").focus();
}

// Any failure ends here: the API's own message, shown; a refused token also signs out.
function fail(error) {
  if (error instanceof ApiError) {
    if (error.status === 401) {
      signOut();
      showSignIn();
    }
    showMessage(error.message);
  } else {
    console.error(error);
    showMessage(`The dashboard failed: ${error.message ?? error}`);
  }
}

function route() {
  const [where, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = where.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

function choose({ parts }) {
  const [top, clusterId, sub, uid] = parts;
  if (top === "clusters" && clusterId && sub === "resources" && uid) {
    return (context) => resourceDetail(clusterId, uid, context);
  }
  if (top === "clusters" && clusterId) return (context) => clusterPage(clusterId, context);
  if (top === "search") return (context) => fleetSearch(context);
  if (top === "onboard") return (context) => onboarding(context);
  if (top === "settings") return (context) => settings(context);
  return (context) => overview(context);
}

async function render() {
  const current = ++generation;
  stopTimers();
  hideMessage();
  if (!me) {
    try {
      me = await get("/me");
    } catch (error) {
      if (current !== generation) return;
      // Not signed in (no session, no token): the sign-in choices, quietly the first time.
      if (error instanceof ApiError && error.status === 401 && !token()) showSignIn();
      else fail(error);
      return;
    }
    if (current !== generation) return;
  }
  showWho();
  signInSection.hidden = true;
  signOutButton.hidden = false;
  const where = route();
  const context = {
    me,
    canManageClusters: canManageClusters(),
    params: where.params,
    fail,
    isCurrent: () => current === generation,
    // Run `refresh` every `seconds` while this view is shown; its failures are shown too.
    every(seconds, refresh) {
      const timer = setInterval(async () => {
        if (!context.isCurrent()) return;
        try {
          await refresh();
        } catch (error) {
          if (context.isCurrent()) fail(error);
        }
      }, seconds * 1000);
      timers.push(timer);
    },
  };
  view.setAttribute("aria-busy", "true");
  try {
    const content = await choose(where)(context);
    if (context.isCurrent()) {
      view.replaceChildren(content);
      document.title = `${content.dataset.title ?? "Overview"} · Obsyk`;
      // Filters applied in the explorer: show its results, not the top of the page.
      content.querySelector('[data-open="true"]')?.scrollIntoView();
    }
  } catch (error) {
    if (context.isCurrent()) fail(error);
  } finally {
    if (context.isCurrent()) view.removeAttribute("aria-busy");
  }
}

signInForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const field = signInForm.elements.token;
  signIn(field.value);
  field.value = "";
  render();
});

orgSwitch.addEventListener("change", async () => {
  try {
    me = await send("PUT", "/me/organization", { id: orgSwitch.value });
    location.hash = "#/";
    render();
  } catch (error) {
    fail(error);
  }
});

signOutButton.addEventListener("click", async () => {
  stopTimers();
  if (me?.auth === "session") await endSession();
  signOut();
  hideMessage();
  location.hash = "#/";
  showSignIn();
});

// The skip link moves focus to the content without touching the URL fragment (the router's).
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  view.focus();
});

window.addEventListener("hashchange", render);
render();
