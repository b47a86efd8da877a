// Deep links: every screen and its filters live in the URL fragment.

import { path } from "./api.js";

// "#<where>?a=1&b=2" with the empty parameters left out.
export function hashOf(where, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const search = query.toString();
  return `#${where}${search ? `?${search}` : ""}`;
}

export const overviewHash = () => "#/";
export const clusterHash = (clusterId, filters = {}) => hashOf(path("clusters", clusterId), filters);
export const resourceHash = (clusterId, uid) => hashOf(path("clusters", clusterId, "resources", uid));
export const searchHash = (filters = {}) => hashOf("/search", filters);
