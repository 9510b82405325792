import { Listing } from "../../../components/Listing";
import { ErrorNote } from "../../../components/States";
import { useModels } from "../../../lib/api/get-models";
import { useLoadModel } from "../api/load-model";
import { useUnloadModel } from "../api/unload-model";

/** Ollama's models, loaded or not; loading and unloading are jobs that wait for the GPU like any other.
 *  `onQueued`: a load or unload was queued (the app refreshes the job lists). */
export function Models({ onQueued }: { onQueued?: () => void }) {
  const models = useModels();
  const load = useLoadModel();
  const unload = useUnloadModel();
  const queued = load.isSuccess || unload.isSuccess;
  const failed = load.error ?? unload.error;
  const toggle = (name: string, loaded: boolean) =>
    loaded ? unload.mutate(name, { onSuccess: onQueued }) : load.mutate(name, { onSuccess: onQueued });
  return (
    <section className="card" aria-labelledby="models-title">
      <h2 id="models-title">Models</h2>
      <Listing query={models} what="models" items={models.data?.models} empty="Ollama has no models. Pull one first.">
        {(rows) => (
          <ul className="plain">
            {rows.map((model) => (
              <li key={model.name} className="row">
                <code>{model.name}</code>
                <span className={`badge ${model.loaded ? "badge-running" : "badge-queued"}`}>{model.loaded ? "loaded" : "not loaded"}</span>
                <button type="button" onClick={() => toggle(model.name, model.loaded)}>
                  {model.loaded ? "Unload" : "Load"}
                </button>
              </li>
            ))}
          </ul>
        )}
      </Listing>
      {failed && <ErrorNote error={failed} />}
      {queued && <p className="muted small">Queued as a job: it runs when the GPU slot is free.</p>}
    </section>
  );
}
