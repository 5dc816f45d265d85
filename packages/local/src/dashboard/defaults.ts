/** `qjobs dashboard` listens here unless told otherwise (`qjobs dev` takes 8080). */
export const DEFAULT_DASHBOARD_PORT = 8090;
