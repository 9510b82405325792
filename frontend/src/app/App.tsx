import { useState } from "react";
import { SignIn } from "../features/auth/components/SignIn";
import { storedToken, storeToken } from "../lib/auth";
import { AppProvider } from "./provider";
import { Shell } from "./Shell";

/** Signed out: the sign-in form. Signed in: the page, with the token kept until sign-out. */
export function App() {
  const [token, setToken] = useState<string | null>(storedToken);
  const signIn = (newToken: string | null) => {
    storeToken(newToken);
    setToken(newToken);
  };
  if (!token) return <SignIn onSignedIn={(newToken) => signIn(newToken)} />;
  return (
    <AppProvider token={token}>
      <Shell onSignOut={() => signIn(null)} />
    </AppProvider>
  );
}
