// Settings: your API tokens; for admins and owners also members and
// invitations, cluster credentials (rotate, revoke) and the audit log.
// Each section calls the API the identity work documents; nothing is shown
// that the signed-in role may not use.

import { get, path, send } from "./api.js";
import { card, crumbs, display, field, h, table, timeAgo } from "./dom.js";
import { hashOf, overviewHash } from "./links.js";

const ROLES = ["viewer", "member", "admin", "owner"];
const AUDIT_ACTIONS = [
  "auth.sign_in", "auth.sign_out", "auth.sign_in_refused", "token.created", "token.revoked",
  "cluster.registered", "cluster.deleted", "credential.rotated", "credential.revoked",
  "member.invited", "member.joined", "member.role_changed", "member.removed", "invitation.revoked", "org.updated",
];

// A secret shown once, with a copy button.
function shownOnce(label, secret) {
  const button = h("button", { type: "button", class: "copy", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select it and press Ctrl+C";
    }
  });
  return h("div", { class: "copyable shown-once" }, h("p", { class: "warning-note" }, `${label}: shown this once, copy it now.`), h("div", { class: "copyable-head" }, h("strong", {}, label), button), h("pre", { class: "command", tabindex: "0" }, secret));
}

function rerender() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

async function tokensSection(context) {
  const tokens = await get("/tokens");
  const result = h("div");
  const name = h("input", { id: "token-name", name: "name", required: true, maxlength: 100, placeholder: "laptop scripts" });
  const form = h("form", { class: "filters", "aria-label": "Create a token" }, field("New token name", name), h("button", { type: "submit" }, "Create token"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const issued = await send("POST", "/tokens", { name: name.value.trim() });
      result.replaceChildren(shownOnce(`Token ${issued.name}`, issued.token));
    } catch (error) {
      context.fail(error);
    }
  });
  const rows = tokens.items.map((token) => {
    const revoke = h("button", { type: "button", class: "danger", "aria-label": `Revoke token ${token.name}` }, "Revoke");
    revoke.addEventListener("click", async () => {
      if (!confirm(`Revoke the token ${token.name}? Scripts using it stop working.`)) return;
      try {
        await send("DELETE", path("tokens", token.id));
        rerender();
      } catch (error) {
        context.fail(error);
      }
    });
    return h("tr", { "data-token": token.name }, h("td", {}, token.name), h("td", {}, timeAgo(token.created_at)), h("td", {}, token.expires_at ? timeAgo(token.expires_at) : "never"), h("td", {}, revoke));
  });
  return card("Your API tokens", form, result, rows.length ? table(["Name", "Created", "Expires", ""], rows, { class: "tokens" }) : h("p", { class: "muted" }, "No tokens yet."));
}

async function membersSection(context) {
  const [members, invitations] = await Promise.all([get("/members"), get("/invitations")]);
  const memberRows = members.items.map((member) => {
    const select = h("select", { "aria-label": `Role of ${member.email}` }, ROLES.map((role) => h("option", { value: role, selected: role === member.role }, role)));
    select.addEventListener("change", async () => {
      try {
        await send("PATCH", path("members", member.user_id), { role: select.value });
      } catch (error) {
        select.value = member.role;
        context.fail(error);
      }
    });
    return h("tr", { "data-member": member.email }, h("td", {}, member.email), h("td", {}, display(member.name)), h("td", {}, select));
  });
  const email = h("input", { id: "invite-email", type: "email", required: true, placeholder: "someone@example.com" });
  const role = h("select", { id: "invite-role" }, ROLES.map((name) => h("option", { value: name, selected: name === "member" }, name)));
  const sent = h("div");
  const form = h("form", { class: "filters", "aria-label": "Invite someone" }, field("Email", email), field("Role", role), h("button", { type: "submit" }, "Invite"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const invitation = await send("POST", "/invitations", { email: email.value.trim(), role: role.value });
      sent.replaceChildren(invitation.accept_url ? shownOnce(`Invitation link for ${invitation.email}`, invitation.accept_url) : h("p", { class: "muted" }, `Invitation sent to ${invitation.email}.`));
      email.value = "";
    } catch (error) {
      context.fail(error);
    }
  });
  const invitationRows = invitations.items.map((invitation) => {
    const revoke = h("button", { type: "button", class: "danger", "aria-label": `Revoke the invitation of ${invitation.email}` }, "Revoke");
    revoke.addEventListener("click", async () => {
      try {
        await send("DELETE", path("invitations", invitation.id));
        rerender();
      } catch (error) {
        context.fail(error);
      }
    });
    return h("tr", {}, h("td", {}, invitation.email), h("td", {}, invitation.role), h("td", {}, invitation.state), h("td", {}, timeAgo(invitation.expires_at)), h("td", {}, invitation.state === "pending" ? revoke : ""));
  });
  return card(
    "Members",
    table(["Email", "Name", "Role"], memberRows, { class: "members" }),
    h("h3", {}, "Invitations"),
    form,
    sent,
    invitationRows.length ? table(["Email", "Role", "State", "Expires", ""], invitationRows, { class: "invitations" }) : h("p", { class: "muted" }, "No invitations."),
  );
}

async function credentialsSection(context) {
  const clusters = (await get("/clusters", { limit: 500 })).items;
  const lists = await Promise.all(clusters.map((cluster) => get(`${path("clusters", cluster.id)}/credentials`)));
  const shown = h("div");
  const rows = clusters.flatMap((cluster, index) => {
    const rotate = h("button", { type: "button", "aria-label": `Rotate the credential of ${cluster.name}` }, "Rotate");
    rotate.addEventListener("click", async () => {
      try {
        const issued = await send("POST", `${path("clusters", cluster.id)}/credentials`, {});
        shown.replaceChildren(shownOnce(`New private key for ${cluster.name} (client id ${issued.client_id})`, issued.private_key));
      } catch (error) {
        context.fail(error);
      }
    });
    return lists[index].items.map((credential, position) => {
      const revoke = h("button", { type: "button", class: "danger", "aria-label": `Revoke ${credential.client_id}` }, "Revoke");
      revoke.addEventListener("click", async () => {
        if (!confirm(`Revoke ${credential.client_id}? An operator using it is refused from its next token.`)) return;
        try {
          await send("DELETE", `${path("clusters", cluster.id, "credentials", credential.client_id)}`);
          rerender();
        } catch (error) {
          context.fail(error);
        }
      });
      return h("tr", { "data-client-id": credential.client_id }, h("td", {}, position === 0 ? cluster.name : ""), h("td", { class: "image" }, credential.client_id), h("td", {}, timeAgo(credential.created_at)), h("td", {}, credential.revoked_at ? ["revoked ", timeAgo(credential.revoked_at)] : "active"), h("td", {}, credential.revoked_at ? "" : revoke, position === 0 ? [" ", rotate] : null));
    });
  });
  return card("Cluster credentials", h("p", { class: "muted" }, "Rotate issues a new key pair (the old one keeps working until you revoke it); revoke refuses it from the operator's next token request."), shown, rows.length ? table(["Cluster", "Client id", "Created", "State", ""], rows, { class: "credentials" }) : h("p", { class: "muted" }, "No clusters."));
}

async function auditSection(context) {
  const params = context.params;
  const filters = { action: params.get("action") ?? "", actor: params.get("actor") ?? "" };
  const log = await get("/audit", { ...filters, limit: 100 });
  const action = h("select", { id: "audit-action", name: "action" }, h("option", { value: "" }, "Any action"), AUDIT_ACTIONS.map((name) => h("option", { value: name, selected: name === filters.action }, name)));
  const actor = h("input", { id: "audit-actor", name: "actor", value: filters.actor, placeholder: "email or user id" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter the audit log" }, field("Action", action), field("Actor", actor), h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = hashOf("/settings", { action: action.value, actor: actor.value.trim() });
  });
  const rows = log.items.map((entry) => h("tr", {}, h("td", {}, timeAgo(entry.at)), h("td", {}, display(entry.actor?.email ?? entry.actor?.type)), h("td", {}, entry.action), h("td", {}, entry.target?.type ? `${entry.target.type} ${entry.target.id ?? ""}` : "—"), h("td", {}, display(entry.ip))));
  return h("section", { class: "card", id: "audit" }, h("h2", {}, "Audit log"), form, rows.length ? table(["When", "Who", "Action", "Target", "From"], rows, { class: "audit" }) : h("p", { class: "muted" }, "Nothing matches."));
}

export async function settings(context) {
  const admin = context.canManageClusters;
  // Viewers read; personal tokens start at the member role (GET /api/v1/me says which).
  const tokens = context.me.organization.role === "viewer" ? [] : [tokensSection(context)];
  const sections = await Promise.all([...tokens, ...(admin ? [membersSection(context), credentialsSection(context), auditSection(context)] : [])]);
  return h(
    "div",
    { class: "page", "data-title": "Settings" },
    crumbs(["Overview", overviewHash()], ["Settings"]),
    h("h1", {}, "Settings"),
    h("p", { class: "muted role-note" }, `${context.me.organization.name}: you are ${context.me.organization.role}.`, tokens.length ? "" : " Personal API tokens start at the member role.", admin ? "" : " Members, credentials and the audit log are for admins and owners."),
    sections,
  );
}
