import type { LockHolder } from "./api/get-lock";
import { ago, bytes, describeHolder, duration, startsIn } from "./format";

describe("format", () => {
  test("ago words time like the server's busy message", () => {
    expect(ago(2)).toBe("just now");
    expect(ago(42)).toBe("42 seconds ago");
    expect(ago(60)).toBe("1 minute ago");
    expect(ago(5 * 60 + 30)).toBe("5 minutes ago");
    expect(ago(2 * 3600)).toBe("2 hours ago");
  });

  test("the lock holder in one line", () => {
    const now = Date.parse("2026-11-23T10:05:00Z");
    const holder = {
      key: "gpu/0",
      operation: "AI Report Generation",
      details: "Case: ACME Breach (ID: 5)",
      username: "jdube",
      started_at: "2026-11-23T10:00:00Z",
    } as LockHolder;
    expect(describeHolder(holder, now)).toBe(
      "AI Report Generation · Case: ACME Breach (ID: 5) · started by jdube · 5 minutes ago",
    );
    expect(describeHolder({ ...holder, details: null, operation: null }, now)).toBe(
      "Maintenance · started by jdube · 5 minutes ago",
    );
  });

  test("durations", () => {
    expect(duration(null)).toBe("—");
    expect(duration(0.25)).toBe("250 ms");
    expect(duration(12.34)).toBe("12.3 s");
    expect(duration(600)).toBe("10 min");
  });

  test("an ETA only from a number: none is said as such, never as ~0 s", () => {
    expect(startsIn(null)).toBe("no estimate yet");
    expect(startsIn(undefined)).toBe("no estimate yet");
    expect(startsIn(0)).toBe("starts any moment");
    expect(startsIn(0.4)).toBe("starts in ~1 s");
    expect(startsIn(42.4)).toBe("starts in ~42 s");
    expect(startsIn(300)).toBe("starts in ~5 min");
  });

  test("memory sizes as a person reads them", () => {
    expect(bytes(null)).toBe("—");
    expect(bytes(512)).toBe("512 bytes");
    expect(bytes(300 * 1024 * 1024)).toBe("300 MB");
    expect(bytes(5_000_000_000)).toBe("4.7 GB");
    expect(bytes(4 * 1024 ** 3)).toBe("4 GB");
    expect(bytes(25_769_803_776)).toBe("24 GB");
  });
});
