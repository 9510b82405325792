// The official Node clients, unmodified, pointed at aijobs: `node clients.mjs <client> <call>` with
// AIJOBS_URL and AIJOBS_TOKEN set runs one call and prints what came back as one JSON line, which the
// pytest side (tests/routes/fronts/test_client_matrix.py) checks. A client error is printed, not thrown.
import { Ollama } from "ollama";
import OpenAI from "openai";

const [client, call] = process.argv.slice(2);
const base = process.env.AIJOBS_URL;
const key = process.env.AIJOBS_TOKEN;
const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const ASK = [{ role: "user", content: "What is the weather in Paris? Use the tool." }];

const ollama = new Ollama({ host: base, headers: { Authorization: `Bearer ${key}` } });
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });

const ollamaCalls = {
  chat: async () => {
    const reply = await ollama.chat({ model: "tinyllama", messages: [{ role: "user", content: "Hi" }] });
    return { content: reply.message.content, done: reply.done };
  },
  "chat-stream": async () => {
    let text = "";
    let done = false;
    for await (const part of await ollama.chat({
      model: "tinyllama",
      messages: [{ role: "user", content: "Hi" }],
      stream: true,
    })) {
      text += part.message.content;
      done = part.done;
    }
    return { content: text, done };
  },
  tools: async () => {
    const reply = await ollama.chat({ model: "llama3.2", messages: ASK, tools: [WEATHER] });
    return { tool_calls: reply.message.tool_calls };
  },
  "tools-stream": async () => {
    const calls = [];
    for await (const part of await ollama.chat({ model: "llama3.2", messages: ASK, tools: [WEATHER], stream: true })) {
      calls.push(...(part.message.tool_calls ?? []));
    }
    return { tool_calls: calls };
  },
  thinking: async () => {
    const reply = await ollama.chat({ model: "qwen3:0.6b", messages: [{ role: "user", content: "2+3?" }], think: true });
    return { thinking: reply.message.thinking, content: reply.message.content };
  },
  embed: async () => {
    const reply = await ollama.embed({ model: "nomic-embed-text", input: ["a", "b"] });
    return { count: reply.embeddings.length, dimensions: reply.embeddings[0].length };
  },
  list: async () => ({ models: (await ollama.list()).models.map((model) => model.name) }),
  show: async () => {
    const shown = await ollama.show({ model: "qwen3:0.6b" });
    return { capabilities: shown.capabilities };
  },
  "error-404": async () => ollama.chat({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
};

const openaiCalls = {
  chat: async () => {
    const reply = await openai.chat.completions.create({ model: "tinyllama", messages: [{ role: "user", content: "Hi" }] });
    return { content: reply.choices[0].message.content, usage: reply.usage };
  },
  "chat-stream": async () => {
    let text = "";
    let usage = null;
    const stream = await openai.chat.completions.create({
      model: "tinyllama",
      messages: [{ role: "user", content: "Hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    return { content: text, usage };
  },
  tools: async () => {
    const reply = await openai.chat.completions.create({ model: "llama3.2", messages: ASK, tools: [WEATHER] });
    return { tool_calls: reply.choices[0].message.tool_calls, finish_reason: reply.choices[0].finish_reason };
  },
  embed: async () => {
    // No encoding_format: the SDK asks for base64 and decodes it into floats.
    const reply = await openai.embeddings.create({ model: "nomic-embed-text", input: "hello" });
    const vector = reply.data[0].embedding;
    return { dimensions: vector.length, norm: Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0)) };
  },
  list: async () => {
    const ids = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    return { models: ids };
  },
  "error-404": async () => openai.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }),
  "error-401": async () =>
    new OpenAI({ baseURL: `${base}/v1`, apiKey: "aij_wrong", maxRetries: 0 }).models.list(),
};

const calls = { ollama: ollamaCalls, openai: openaiCalls }[client];
try {
  console.log(JSON.stringify({ ok: true, value: await calls[call]() }));
} catch (error) {
  const status = error.status_code ?? error.status ?? null;
  const message = error.error?.message ?? error.error ?? error.message;
  console.log(JSON.stringify({ ok: false, status, message: String(message), name: error.constructor.name }));
}
