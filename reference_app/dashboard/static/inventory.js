// One cluster's inventory: pick a kind (grouped by display category), filter
// by namespace, name and labels; the table's columns are the kind's display hints.

import { get, path } from "./api.js";
import { h, pill, plural, rendered, valueAt } from "./dom.js";
import { pager } from "./pager.js";

const FILTERS = ["kind", "namespace", "q", "label_selector"];
const PAGE_SIZE = 100;

export function inventoryHash(clusterId, filters) {
  const query = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) query.set(name, filters[name]);
  return `#${path("clusters", clusterId)}?${query}`;
}

export function resourceHash(clusterId, uid) {
  return `#${path("clusters", clusterId, "resources", uid)}`;
}

// Columns to show: the kind's declared columns, led by the name (a link).
function columnsOf(kind) {
  const columns = [...kind.display.columns];
  if (!columns.some((column) => column.field === "name")) columns.unshift({ field: "name", type: "text", label: "name" });
  return columns;
}

function cell(clusterId, kind, column, resource) {
  if (column.field === "name") {
    return h("td", {}, h("a", { href: resourceHash(clusterId, resource.uid), class: "resource-name" }, resource.name));
  }
  const value = valueAt(resource.object, column.field);
  return h("td", { class: column.type === "status" ? "status" : column.type }, rendered(column, value));
}

function kindPicker(kinds, counts, selected) {
  const groups = new Map();
  for (const kind of kinds) {
    const label = kind.display.category;
    if (!groups.has(label)) groups.set(label, h("optgroup", { label }));
    const count = counts[kind.kind] ?? 0;
    groups.get(label).append(
      h("option", { value: kind.kind, selected: kind.kind === selected }, `${kind.kind} (${count})`),
    );
  }
  return h("select", { name: "kind", id: "filter-kind" }, [...groups.values()]);
}

function field(label, input) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
}

function filterForm(clusterId, kinds, counts, filters, namespaces) {
  const kindSelect = kindPicker(kinds, counts, filters.kind);
  const form = h(
    "form",
    { class: "filters", role: "search" },
    field("Kind", kindSelect),
    field("Namespace", h("input", { name: "namespace", id: "filter-namespace", list: "namespaces", value: filters.namespace ?? "", placeholder: "all", spellcheck: "false" })),
    h("datalist", { id: "namespaces" }, namespaces.map((name) => h("option", { value: name }))),
    field("Name contains", h("input", { name: "q", id: "filter-q", type: "search", value: filters.q ?? "", spellcheck: "false" })),
    field("Label selector", h("input", { name: "label_selector", id: "filter-labels", value: filters.label_selector ?? "", placeholder: "app=web,env!=dev", spellcheck: "false" })),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = Object.fromEntries(new FormData(form));
    location.hash = inventoryHash(clusterId, chosen);
  });
  kindSelect.addEventListener("change", () => form.requestSubmit());
  return form;
}

// Pods are what most people look for first; otherwise the first kind the cluster has.
function defaultKind(kinds, counts) {
  if (counts.Pod) return "Pod";
  return (kinds.find((kind) => counts[kind.kind]) ?? kinds[0])?.kind;
}

export async function inventory(clusterId, context) {
  const [cluster, kindList, namespaceList] = await Promise.all([
    get(path("clusters", clusterId)),
    get("/kinds"),
    get(`${path("clusters", clusterId)}/resources`, { kind: "Namespace", limit: 1000 }),
  ]);
  const kinds = kindList.items;
  const counts = cluster.resource_counts ?? {};
  const filters = Object.fromEntries(FILTERS.map((name) => [name, context.params.get(name) ?? ""]));
  filters.kind ||= defaultKind(kinds, counts);
  const kind = kinds.find((candidate) => candidate.kind === filters.kind);
  if (!kind) throw new Error(`No installed kind is called ${filters.kind}.`);

  const listPath = `${path("clusters", clusterId)}/resources`;
  const query = { ...filters, limit: PAGE_SIZE };
  const first = await get(listPath, query);
  const columns = columnsOf(kind);
  const body = h("tbody");
  const row = (resource) =>
    h("tr", { "data-uid": resource.uid }, columns.map((column) => cell(clusterId, kind, column, resource)));
  const more = pager(first, body, row, (cursor) => get(listPath, { ...query, cursor }), context);
  const filtered = Boolean(filters.namespace || filters.q || filters.label_selector);

  return h(
    "section",
    { class: "card inventory" },
    h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "Clusters"), " / ", cluster.name),
    h("h1", {}, cluster.name, " ", pill(cluster.status)),
    filterForm(clusterId, kinds, counts, filters, namespaceList.items.map((ns) => ns.name)),
    h("p", { class: "muted" }, `${kind.api_version} ${kind.kind}: ${plural(counts[kind.kind] ?? 0, "live resource")} in the cluster${filtered ? "; showing those that match" : ""}.`),
    first.items.length
      ? h("table", { class: "data resources" }, h("thead", {}, h("tr", {}, columns.map((column) => h("th", {}, column.label)))), body)
      : h("p", { class: "empty" }, `No ${kind.kind} matches.`),
    more,
  );
}
