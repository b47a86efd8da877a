// The attention list: silent clusters and resources in trouble, as the API computes them.

import { h, pill, plural, timeAgo } from "./dom.js";
import { clusterHash, resourceHash } from "./links.js";

const TROUBLE = { bad: ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Failed", "NotReady", "disconnected"], warn: ["Pending", "BelowDesired", "Warning"] };

// Worst first: what stops pods from running, then what is degraded, then warnings.
const ORDER = ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Failed", "NotReady", "Pending", "BelowDesired", "Warning"];
const rank = (reason) => (ORDER.includes(reason) ? ORDER.indexOf(reason) : ORDER.length);

export function attentionList(answer, { showCluster = true } = {}) {
  const rows = [
    ...answer.disconnected.map((cluster) =>
      h(
        "li",
        { class: "attention-item", "data-reason": "disconnected" },
        pill("disconnected", TROUBLE),
        " ",
        h("a", { href: clusterHash(cluster.cluster_id) }, `Cluster ${cluster.name}`),
        h("span", { class: "muted" }, " last heard from ", timeAgo(cluster.last_seen_at)),
      ),
    ),
    ...[...answer.items].sort((a, b) => rank(a.reason) - rank(b.reason)).map((item) =>
      h(
        "li",
        { class: "attention-item", "data-reason": item.reason, "data-uid": item.uid },
        pill(item.reason, TROUBLE),
        " ",
        h("a", { href: resourceHash(item.cluster_id, item.uid) }, `${item.kind} ${item.namespace ? `${item.namespace}/` : ""}${item.name}`),
        showCluster ? h("span", { class: "muted" }, ` in ${item.cluster_name}`) : null,
        h("div", { class: "muted small" }, item.detail),
      ),
    ),
  ];
  const count = answer.disconnected.length + answer.items.length;
  return h(
    "div",
    { class: "attention" },
    h("p", { class: "attention-count" }, count ? `${plural(count, "item")} need${count === 1 ? "s" : ""} attention${answer.truncated ? ` (the first ${answer.limit} shown)` : ""}.` : "Nothing needs attention: every cluster reports in and nothing is failing."),
    count ? h("ul", { class: "attention-list" }, rows) : null,
  );
}
