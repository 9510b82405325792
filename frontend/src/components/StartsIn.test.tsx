import { act, render } from "@testing-library/react";
import { StartsIn } from "./StartsIn";

describe("StartsIn", () => {
  afterEach(() => vi.useRealTimers());

  test("counts down from the server's estimate between updates", () => {
    vi.useFakeTimers();
    const { container, rerender } = render(<StartsIn eta={42} since={Date.now()} />);
    expect(container).toHaveTextContent("starts in ~42 s");
    act(() => vi.advanceTimersByTime(10_000));
    expect(container).toHaveTextContent("starts in ~32 s");
    act(() => vi.advanceTimersByTime(40_000));
    expect(container).toHaveTextContent("starts any moment");
    rerender(<StartsIn eta={null} since={Date.now()} />);
    expect(container).toHaveTextContent("no estimate yet");
  });
});
