// Fleet search: the explorer's filters across every cluster of the org, plus
// the images in use and where each one runs.

import { get } from "./api.js";
import { card, crumbs, field, h, plural, table } from "./dom.js";
import { filterForm, filtersFrom, resultsSection } from "./explorer.js";
import { clusterHash, hashOf, overviewHash, resourceHash } from "./links.js";

function imageForm(image, params) {
  const input = h("input", { name: "image", id: "image-search", type: "search", value: image, placeholder: "nginx, ghcr.io/acme/…", spellcheck: "false" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Find an image" }, field("Image name contains", input), h("button", { type: "submit" }, "Find image"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = hashOf("/search", { ...Object.fromEntries(params), cursor: "", page: "", image: input.value.trim() });
  });
  return form;
}

function imageTable(summary, clusterNames) {
  if (!summary.images.length) return h("p", { class: "empty" }, "No running pod uses a matching image.");
  const rows = summary.images.map((use) =>
    h(
      "tr",
      { "data-image": use.image },
      h("td", { class: "image" }, use.image),
      h("td", { class: "quantity" }, use.pods.toLocaleString("en")),
      h("td", {}, [...new Set(use.where.map((w) => clusterNames[w.cluster_id] ?? w.cluster_id))].join(", ")),
      h(
        "td",
        {},
        h("ul", { class: "placements" }, use.where.map((w) => h("li", {}, h("a", { href: resourceHash(w.cluster_id, w.uid) }, `${clusterNames[w.cluster_id] ?? w.cluster_id}: ${w.namespace}/${w.pod}`)))),
        use.where_truncated ? h("span", { class: "muted small" }, `… first ${use.where.length} of ${use.pods}`) : null,
      ),
    ),
  );
  return [
    table(["Image", "Pods", "Clusters", "Where it runs"], rows, { class: "images" }),
    summary.images_truncated ? h("p", { class: "muted small" }, `The ${summary.images_limit} most used images are shown; narrow the search to see others.`) : null,
  ];
}

export async function fleetSearch(context) {
  const params = context.params;
  const filters = filtersFrom(params);
  const image = params.get("image") ?? "";
  const [kindList, clusterList, summary] = await Promise.all([get("/kinds"), get("/clusters", { limit: 500 }), get("/summary", { image })]);
  const kinds = kindList.items;
  const clusterNames = Object.fromEntries(clusterList.items.map((cluster) => [cluster.id, cluster.name]));
  const searching = Boolean(filters.q || filters.kind || filters.namespace || filters.label_selector);
  const results = searching
    ? await resultsSection({
        listPath: "/resources",
        where: "/search",
        params,
        filters,
        kinds,
        clusterNames,
        withCluster: true,
        emptyHelp: () => h("p", {}, "Nothing in the fleet."),
      })
    : h("p", { class: "empty" }, `Search ${plural(clusterList.items.length, "cluster")} at once: type part of a name, or pick a kind or a label selector.`);
  return h(
    "div",
    { class: "page", "data-title": "Fleet search" },
    crumbs(["Overview", overviewHash()], ["Fleet search"]),
    h("h1", {}, "Fleet search"),
    h("section", { class: "card" }, h("h2", {}, "Resources in every cluster"), filterForm({ where: "/search", kinds, filters, allowAnyKind: true, extra: { image } }), results),
    card(image ? `Where does “${image}” run` : "Images in use", imageForm(image, params), imageTable(summary, clusterNames)),
    h("p", { class: "muted small" }, "Clusters: ", clusterList.items.map((cluster, index) => [index ? ", " : "", h("a", { href: clusterHash(cluster.id) }, cluster.name)])),
  );
}
