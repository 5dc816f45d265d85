import { fileURLToPath } from "node:url";

/** Where scripts/build-page.mjs puts the dashboard's page: dist/page, beside the compiled CLI. */
export const PAGE_FOLDER = fileURLToPath(new URL("../page/", import.meta.url));
