// Deep links: every screen and its filters live in the URL fragment.

import { path, withQuery } from "./api.js";

// "#<where>?a=1&b=2" with the empty parameters left out.
export function hashOf(where, params = {}) {
  return withQuery(`#${where}`, params);
}

export const overviewHash = () => "#/";
export const clusterHash = (clusterId, filters = {}) => hashOf(path("clusters", clusterId), filters);
export const resourceHash = (clusterId, uid) => hashOf(path("clusters", clusterId, "resources", uid));
export const searchHash = (filters = {}) => hashOf("/search", filters);
