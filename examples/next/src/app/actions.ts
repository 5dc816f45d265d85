"use server";
import { dispatch } from "../qjobs.gen";

// A real app checks here that the user may start the job (and so read its run): the handle's token lets whoever
// holds it read this one run until it expires.

export async function startReport() {
  return dispatch("reports/build", { pages: 12 });
}

export async function startCharge() {
  return dispatch("cards/charge", { cents: 1999 });
}
