// The dashboard: sign-in, then views chosen by the URL fragment, so the
// browser's back button and a reload keep the user where they were.
//   #/                                  clusters
//   #/clusters/<id>?kind=&namespace=…   a cluster's inventory
//   #/clusters/<id>/resources/<uid>     one resource and its history

import { ApiError, signIn, signOut, token } from "./api.js";
import { clusterList } from "./clusters.js";
import { inventory } from "./inventory.js";
import { resourceDetail } from "./resource.js";

const view = document.getElementById("view");
const message = document.getElementById("message");
const signInSection = document.getElementById("sign-in");
const signInForm = document.getElementById("sign-in-form");
const signOutButton = document.getElementById("sign-out");

// Each render gets a number; a slow answer for a view the user already left is dropped.
let generation = 0;

function showMessage(text) {
  message.textContent = text;
  message.hidden = false;
}

function hideMessage() {
  message.hidden = true;
  message.textContent = "";
}

function showSignIn() {
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
  if (top === "clusters" && clusterId) return (context) => inventory(clusterId, context);
  return (context) => clusterList(context);
}

async function render() {
  const current = ++generation;
  hideMessage();
  if (!token()) {
    showSignIn();
    return;
  }
  signInSection.hidden = true;
  signOutButton.hidden = false;
  const where = route();
  const context = { params: where.params, fail, isCurrent: () => current === generation };
  view.setAttribute("aria-busy", "true");
  try {
    const content = await choose(where)(context);
    if (context.isCurrent()) view.replaceChildren(content);
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

signOutButton.addEventListener("click", () => {
  signOut();
  hideMessage();
  location.hash = "#/";
  showSignIn();
});

window.addEventListener("hashchange", render);
render();
