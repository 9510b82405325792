export function SubmitButton({ pending, label, disabled }: { pending: boolean; label: string; disabled?: boolean }) {
  return (
    <button type="submit" className="primary" disabled={pending || disabled}>
      {pending ? "Sending…" : label}
    </button>
  );
}
