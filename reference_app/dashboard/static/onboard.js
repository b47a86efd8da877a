// The onboarding wizard: name -> credentials (shown once) -> install commands
// -> waiting for the first heartbeat, which turns into "connected" by itself.

import { get, path, send } from "./api.js";
import { crumbs, field, h, pill } from "./dom.js";
import { clusterHash, overviewHash } from "./links.js";

export const WAIT_SECONDS = 2;
const PLATFORM_URL = document.documentElement.dataset.platformUrl || location.origin;

function copyable(label, text, id) {
  const pre = h("pre", { class: "command", id, tabindex: "0" }, text);
  const button = h("button", { type: "button", class: "copy", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      // No clipboard (an insecure origin): select the text so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(pre);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
  });
  return h("div", { class: "copyable" }, h("div", { class: "copyable-head" }, h("strong", {}, label), button), pre);
}

export function commands(registration, name) {
  const secret = [
    "kubectl create namespace obsyk-system",
    "cat > operator-key.pem <<'EOF'",
    registration.private_key.trim(),
    "EOF",
    "kubectl -n obsyk-system create secret generic obsyk-credentials \\",
    `  --from-literal=client_id=${registration.client_id} --from-file=private_key=operator-key.pem`,
  ].join("\n");
  const apply = [
    `# deploy/operator/ with OBSYK_PLATFORM_URL=${PLATFORM_URL} and OBSYK_CLUSTER_NAME=${name}`,
    "kubectl apply -k deploy/operator",
  ].join("\n");
  const local = `obsyk-operator run --platform-url ${PLATFORM_URL} --client-id ${registration.client_id} --private-key-file operator-key.pem --cluster-name ${name}`;
  return { secret, apply, local };
}

function waiting(context, clusterId, box) {
  const status = h("p", { class: "wizard-status", role: "status", "aria-live": "polite" }, pill("pending"), " Waiting for the first heartbeat…");
  box.append(status);
  context.every(WAIT_SECONDS, async () => {
    const cluster = await get(path("clusters", clusterId));
    if (cluster.status !== "pending") {
      status.replaceChildren(pill(cluster.status), " ", cluster.status === "connected" ? "Connected: the operator reports in. " : "Heard from, then silent. ", h("a", { href: clusterHash(clusterId) }, "Open the cluster"));
    }
  });
}

export async function onboarding(context) {
  if (!context.canManageClusters) {
    return h(
      "div",
      { class: "page", "data-title": "Add a cluster" },
      crumbs(["Overview", overviewHash()], ["Add a cluster"]),
      h("h1", {}, "Add a cluster"),
      h("section", { class: "card" }, h("p", { class: "needs-admin" }, `Registering a cluster needs an admin or owner of ${context.me.organization.name}; you are a ${context.me.organization.role}.`)),
    );
  }
  const steps = h("div", { class: "wizard" });
  const nameInput = h("input", { id: "cluster-name", name: "name", required: true, maxlength: 253, spellcheck: "false", autocomplete: "off", placeholder: "prod-eu-1" });
  const form = h("form", { class: "filters", "aria-label": "Register a cluster" }, field("Cluster name", nameInput), h("button", { type: "submit" }, "Register"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    let registration;
    try {
      registration = await send("POST", "/clusters", { name });
    } catch (error) {
      context.fail(error);
      return;
    }
    form.querySelector("button").disabled = true;
    nameInput.readOnly = true;
    const { secret, apply, local } = commands(registration, name);
    const box = h(
      "section",
      { class: "card", "data-cluster-id": registration.cluster_id },
      h("h2", {}, "2. Install the operator"),
      h("p", { class: "warning-note" }, "The private key is shown this once; the platform keeps only its public half. Copy it now."),
      copyable("Credentials Secret", secret, "command-secret"),
      copyable("Install (Kustomize)", apply, "command-apply"),
      copyable("Or run it locally", local, "command-local"),
      h("h2", {}, "3. Wait for it"),
    );
    steps.append(box);
    waiting(context, registration.cluster_id, box);
  });
  return h(
    "div",
    { class: "page", "data-title": "Add a cluster" },
    crumbs(["Overview", overviewHash()], ["Add a cluster"]),
    h("h1", {}, "Add a cluster"),
    h("section", { class: "card" }, h("h2", {}, "1. Name it"), h("p", { class: "muted" }, "A name your organization has not used yet. Registering creates the operator's credentials."), form),
    steps,
  );
}
