import type { QStashState } from "./state.js";
import type { UrlGroup } from "./types.js";

/** URL groups (QStash's topics): named lists of endpoints a publish fans out to. */
export class UrlGroups {
  constructor(private readonly state: QStashState) {}

  /** How many messages a publish to a URL group makes: one per endpoint. */
  size(name: string): number {
    return this.state.groups.get(name)?.endpoints.length ?? 0;
  }

  list(): UrlGroup[] {
    return [...this.state.groups.values()];
  }

  get(name: string): UrlGroup | undefined {
    return this.state.groups.get(name);
  }

  /** Adds endpoints to a group (creating it); an endpoint with a known name or URL is replaced. */
  add(name: string, endpoints: { name?: string; url: string }[]): UrlGroup {
    const now = this.state.now();
    const group = this.state.groups.get(name) ?? { name, createdAt: now, updatedAt: now, endpoints: [] };
    for (const endpoint of endpoints) {
      group.endpoints = group.endpoints.filter(
        (known) => known.url !== endpoint.url && (endpoint.name === undefined || known.name !== endpoint.name),
      );
      group.endpoints.push(
        endpoint.name === undefined ? { url: endpoint.url } : { name: endpoint.name, url: endpoint.url },
      );
    }
    group.updatedAt = now;
    this.state.groups.set(name, group);
    this.state.store.append({ k: "group", g: group });
    return group;
  }

  /** Removes the endpoints named by name or URL; returns false for an unknown group. */
  remove(name: string, endpoints: { name?: string; url?: string }[]): boolean {
    const group = this.state.groups.get(name);
    if (!group) return false;
    group.endpoints = group.endpoints.filter(
      (known) =>
        !endpoints.some(
          (gone) =>
            (gone.url !== undefined && gone.url === known.url) || (gone.name !== undefined && gone.name === known.name),
        ),
    );
    group.updatedAt = this.state.now();
    this.state.store.append({ k: "group", g: group });
    return true;
  }

  delete(name: string): boolean {
    if (!this.state.groups.delete(name)) return false;
    this.state.store.append({ k: "ungroup", name });
    return true;
  }
}
