import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { SignIn } from "./SignIn";

describe("SignIn", () => {
  afterEach(() => vi.unstubAllGlobals());

  test("a rejected key says why; an accepted one signs in", async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(
        new Response(JSON.stringify({ error: { code: "unauthorized", message: "Unknown or revoked API key." } }), { status: 401 }),
      )
      .mockResolvedValueOnce(new Response(JSON.stringify({ id: "u1", username: "alice", is_admin: false }), { status: 200 }));
    vi.stubGlobal("fetch", fetch);
    const signedIn = vi.fn();
    render(<SignIn onSignedIn={signedIn} />);
    await userEvent.type(screen.getByLabelText("API key or token"), "aij_wrong");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That key was not accepted: Unknown or revoked API key.");
    expect(signedIn).not.toHaveBeenCalled();

    await userEvent.clear(screen.getByLabelText("API key or token"));
    await userEvent.type(screen.getByLabelText("API key or token"), "aij_right");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await vi.waitFor(() => expect(signedIn).toHaveBeenCalledWith("aij_right", { id: "u1", username: "alice", is_admin: false }));
    expect(fetch.mock.calls[1][1].headers.get("Authorization")).toBe("Bearer aij_right");
  });
});
