// Keyset pages: rows of the first page now, a "Load more" button while the
// API's next_cursor says there is more.

import { h } from "./dom.js";

export function pager(firstPage, body, makeRow, fetchPage, context) {
  const button = h("button", { type: "button", class: "load-more" }, "Load more");
  let cursor = null;

  function add(page) {
    body.append(...page.items.map(makeRow));
    cursor = page.next_cursor;
    button.hidden = !cursor;
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      add(await fetchPage(cursor));
    } catch (error) {
      context.fail(error);
    } finally {
      button.disabled = false;
    }
  });
  add(firstPage);
  return h("div", { class: "pager" }, button);
}
