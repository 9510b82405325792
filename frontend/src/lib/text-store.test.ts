import { applyChunk, longest, TextStore } from "./text-store";

describe("streamed text", () => {
  test("a chunk lands at its offset; overlapping chunks do not duplicate text", () => {
    expect(applyChunk("", 0, "Hello")).toBe("Hello");
    expect(applyChunk("Hello", 5, " world")).toBe("Hello world");
    expect(applyChunk("Hello wor", 5, " world")).toBe("Hello world");
  });

  test("a chunk past the end is a gap: the caller must catch up from the status", () => {
    expect(applyChunk("Hel", 5, " world")).toBeNull();
    const store = new TextStore();
    expect(store.apply("job", 3, "lo")).toBe(false);
    expect(store.get("job")).toBe("");
    store.catchUp("job", "Hel");
    expect(store.apply("job", 3, "lo")).toBe(true);
    expect(store.get("job")).toBe("Hello");
  });

  test("catching up never shortens what the socket already brought", () => {
    const store = new TextStore();
    const seen: string[] = [];
    store.subscribe(() => seen.push(store.get("job")));
    store.apply("job", 0, "Hello world");
    store.catchUp("job", "Hello");
    expect(store.get("job")).toBe("Hello world");
    expect(seen).toEqual(["Hello world"]);
    expect(longest("ab", undefined, "abc", null)).toBe("abc");
  });
});
