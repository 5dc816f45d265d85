import { type Cron, parseCron } from "../cron.js";
import { BadRequest, type MessageSpec, newId } from "./message.js";
import { scheduleRecord } from "./records.js";
import type { QStashState } from "./state.js";
import type { Schedule } from "./types.js";

/** Schedules: a message published at each tick of a cron, each armed on the clock. */
export class Schedules {
  constructor(
    private readonly state: QStashState,
    private readonly publish: (spec: MessageSpec) => { messageId: string },
  ) {}

  list(): Schedule[] {
    return [...this.state.schedules.values()];
  }

  get(scheduleId: string): Schedule | undefined {
    return this.state.schedules.get(scheduleId);
  }

  create(cronText: string, spec: MessageSpec, scheduleId = newId("scd")): Schedule {
    let cron: Cron;
    try {
      cron = parseCron(cronText);
    } catch (error) {
      throw new BadRequest(`invalid cron: ${(error as Error).message}`);
    }
    this.state.schedules.get(scheduleId)?.cancelTimer?.(); // a known id is replaced, as QStash does
    const schedule: Schedule = { scheduleId, cron, spec, createdAt: this.state.now(), isPaused: false };
    this.state.schedules.set(scheduleId, schedule);
    this.state.store.append(scheduleRecord(schedule));
    this.arm(schedule);
    return schedule;
  }

  delete(scheduleId: string): boolean {
    const schedule = this.state.schedules.get(scheduleId);
    if (!schedule) return false;
    schedule.cancelTimer?.();
    this.state.schedules.delete(scheduleId);
    this.state.store.append({ k: "unschedule", id: scheduleId });
    return true;
  }

  /** Publishes a schedule's message once, now (QStash has no such endpoint; the dashboard's "Trigger now"). */
  trigger(scheduleId: string): { messageId: string } | undefined {
    const schedule = this.state.schedules.get(scheduleId);
    if (!schedule) return undefined;
    return this.publish({ ...schedule.spec, scheduleId });
  }

  pause(scheduleId: string, paused: boolean): boolean {
    const schedule = this.state.schedules.get(scheduleId);
    if (!schedule) return false;
    schedule.isPaused = paused;
    this.state.store.append(scheduleRecord(schedule));
    return true;
  }

  arm(schedule: Schedule): void {
    const next = schedule.cron.next(this.state.now());
    schedule.nextScheduleTime = next;
    if (next === undefined) return;
    schedule.cancelTimer = this.state.options.clock.schedule(() => {
      if (this.state.schedules.get(schedule.scheduleId) !== schedule) return;
      if (!schedule.isPaused) {
        schedule.lastScheduleTime = this.state.now();
        this.state.store.append(scheduleRecord(schedule));
        this.publish({ ...schedule.spec, scheduleId: schedule.scheduleId });
      }
      this.arm(schedule);
    }, next - this.state.now());
  }
}
