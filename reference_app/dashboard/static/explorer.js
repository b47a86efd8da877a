// The resource explorer: filters (kind, namespace, name, labels, as of) kept in
// the URL, the kind's declared columns, sortable headers, cursor paging.
// Used on a cluster's page (one cluster) and by fleet search (every cluster).

import { get } from "./api.js";
import { display, field, h, isoFromLocal, localFromIso, pastBanner, plural, rendered, valueAt } from "./dom.js";
import { hashOf, resourceHash } from "./links.js";

export const FILTERS = ["kind", "namespace", "q", "label_selector", "as_of"];
export const PAGE_SIZE = 50;

export function filtersFrom(params) {
  return Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ""]));
}

function kindPicker(kinds, counts, selected, { allowAny }) {
  const groups = new Map();
  for (const kind of kinds) {
    const label = kind.display.category;
    if (!groups.has(label)) groups.set(label, h("optgroup", { label }));
    const count = counts?.[kind.kind];
    groups.get(label).append(h("option", { value: kind.kind, selected: kind.kind === selected }, count === undefined ? kind.kind : `${kind.kind} (${count})`));
  }
  return h("select", { name: "kind", id: "filter-kind" }, allowAny ? h("option", { value: "", selected: !selected }, "Any kind") : null, [...groups.values()]);
}

// The filter form; submitting it moves to `where` with the chosen filters (a new history entry).
export function filterForm({ where, kinds, counts, filters, namespaces = [], allowAnyKind = false, extra = {} }) {
  const kindSelect = kindPicker(kinds, counts, filters.kind, { allowAny: allowAnyKind });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter resources" },
    field("Kind", kindSelect),
    field("Namespace", h("input", { name: "namespace", id: "filter-namespace", list: "namespaces", value: filters.namespace, placeholder: "all", spellcheck: "false" })),
    h("datalist", { id: "namespaces" }, namespaces.map((name) => h("option", { value: name }))),
    field("Name contains", h("input", { name: "q", id: "filter-q", type: "search", value: filters.q, spellcheck: "false" })),
    field("Label selector", h("input", { name: "label_selector", id: "filter-labels", value: filters.label_selector, placeholder: "app=web,env!=dev", spellcheck: "false" })),
    field("As of (the past)", h("input", { name: "as_of", id: "filter-as-of", type: "datetime-local", value: localFromIso(filters.as_of) })),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = Object.fromEntries(new FormData(form));
    chosen.as_of = isoFromLocal(chosen.as_of);
    location.hash = hashOf(where, { ...extra, ...chosen });
  });
  kindSelect.addEventListener("change", () => form.requestSubmit());
  return form;
}

// Columns: the kind's declared ones led by the name (a link); across kinds, a generic set.
export function columnsOf(kind, { withCluster = false } = {}) {
  const lead = withCluster ? [{ field: "_cluster", type: "text", label: "cluster" }] : [];
  if (!kind) {
    return [...lead, { field: "_kind", type: "text", label: "kind" }, { field: "namespace", type: "text", label: "namespace" }, { field: "name", type: "text", label: "name" }];
  }
  const columns = [...kind.display.columns];
  if (!columns.some((column) => column.field === "name")) columns.unshift({ field: "name", type: "text", label: "name" });
  return [...lead, ...columns];
}

function cellValue(column, resource, clusterNames) {
  if (column.field === "_cluster") return clusterNames?.[resource.cluster_id] ?? resource.cluster_id;
  if (column.field === "_kind") return resource.kind;
  if (column.field === "name") return resource.name;
  if (column.field === "namespace") return resource.namespace ?? "";
  return valueAt(resource.object, column.field);
}

function cell(column, resource, clusterNames) {
  const value = cellValue(column, resource, clusterNames);
  if (column.field === "name") {
    return h("td", {}, h("a", { href: resourceHash(resource.cluster_id, resource.uid), class: "resource-name" }, resource.name), resource.deleted_at ? [" ", h("span", { class: "pill pill-bad" }, "deleted")] : null);
  }
  return h("td", { class: column.type === "status" ? "status" : column.type }, rendered(column, value));
}

// Values compare as numbers when both are numbers, else as text.
function compare(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return display(a).localeCompare(display(b), "en", { numeric: true });
}

// A table whose headers sort the rows shown (this page), keyboard-operable buttons in each header.
export function resourceTable(columns, items, clusterNames) {
  const body = h("tbody");
  let sorted = { index: -1, direction: 1 };
  const headers = columns.map((column, index) => {
    const button = h("button", { type: "button", class: "sort", "data-field": column.field }, column.label);
    const th = h("th", { scope: "col", "aria-sort": "none" }, button);
    button.addEventListener("click", () => {
      sorted = { index, direction: sorted.index === index ? -sorted.direction : 1 };
      draw();
    });
    return th;
  });
  function draw() {
    const rows = [...items];
    if (sorted.index >= 0) {
      const column = columns[sorted.index];
      rows.sort((x, y) => sorted.direction * compare(cellValue(column, x, clusterNames), cellValue(column, y, clusterNames)));
    }
    headers.forEach((th, index) => th.setAttribute("aria-sort", index === sorted.index ? (sorted.direction > 0 ? "ascending" : "descending") : "none"));
    body.replaceChildren(...rows.map((resource) => h("tr", { "data-uid": resource.uid }, columns.map((column) => cell(column, resource, clusterNames)))));
  }
  draw();
  return h("div", { class: "table-wrap" }, h("table", { class: "data resources" }, h("thead", {}, h("tr", {}, headers)), body));
}

// Next/previous: the cursor rides in the URL (a deep link to any page); previous is the browser's back.
export function pagerLinks(where, params, page) {
  const number = Number(params.get("page") ?? "1") || 1;
  const nav = h("nav", { class: "pager", "aria-label": "Pages" });
  if (number > 1) {
    nav.append(h("button", { type: "button", class: "previous", onclick: () => history.back() }, "← Previous"));
  }
  nav.append(h("span", { class: "muted small" }, `Page ${number}`));
  if (page.next_cursor) {
    const next = Object.fromEntries(params);
    next.cursor = page.next_cursor;
    next.page = String(number + 1);
    nav.append(h("a", { class: "next", href: hashOf(where, next) }, "Next →"));
  }
  return nav;
}

// One page of resources for `filters` at `listPath`, as a section of the page.
export async function resultsSection({ listPath, where, params, filters, kinds, counts, clusterNames, extraQuery = {}, withCluster = false, emptyHelp }) {
  const kind = kinds.find((candidate) => candidate.kind === filters.kind);
  const query = { ...filters, ...extraQuery, cursor: params.get("cursor") ?? "", limit: PAGE_SIZE };
  const page = await get(listPath, query);
  const columns = columnsOf(kind, { withCluster });
  const filtered = Boolean(filters.namespace || filters.q || filters.label_selector);
  const total = kind && counts ? counts[kind.kind] ?? 0 : undefined;
  const number = Number(params.get("page") ?? "1") || 1;
  const first = (number - 1) * PAGE_SIZE + 1;
  const shown = page.items.length;
  let summary;
  if (!shown) summary = "No results.";
  else if (total !== undefined && !filtered && !filters.as_of) summary = `${first.toLocaleString("en")}–${(first + shown - 1).toLocaleString("en")} of ${plural(total, kind.kind)}`;
  else summary = `${first.toLocaleString("en")}–${(first + shown - 1).toLocaleString("en")}${page.next_cursor ? ", more on the next page" : ""}`;
  let body;
  if (shown) body = resourceTable(columns, page.items, clusterNames);
  else if (filtered || filters.q) body = h("div", { class: "empty" }, h("p", {}, "Nothing matches these filters."), h("p", {}, h("a", { href: hashOf(where, { ...extraQuery, kind: filters.kind, as_of: filters.as_of }) }, "Clear the filters"), " or try another kind."));
  else body = h("div", { class: "empty" }, emptyHelp(kind));
  return h(
    "div",
    { class: "results" },
    filters.as_of ? pastBanner(filters.as_of, hashOf(where, { ...extraQuery, ...filters, as_of: "" })) : null,
    h("p", { class: "result-count", role: "status" }, summary, kind ? h("span", { class: "muted" }, ` · ${kind.api_version} ${kind.kind}`) : null),
    body,
    pagerLinks(where, params, page),
  );
}
