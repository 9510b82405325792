import { useModels } from "../../../lib/api/get-models";
import { useSettings } from "../../../lib/api/get-settings";

/** The models Ollama has; the empty choice is the active model (named, so users know which one answers). */
export function ModelPicker({ value, onChange, id }: { value: string; onChange: (model: string) => void; id: string }) {
  const models = useModels();
  const settings = useSettings();
  const active = settings.data?.active_model;
  return (
    <label htmlFor={id}>
      Model
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        <option value="">{active ? `Active model (${active})` : "Active model"}</option>
        {models.data?.models.map((model) => (
          <option key={model.name} value={model.name}>
            {model.name}
            {model.loaded ? " · loaded" : ""}
          </option>
        ))}
      </select>
      {models.isError && <span className="muted small"> (model list unavailable: {models.error.message})</span>}
    </label>
  );
}
