// Cold start baseline: a Worker that answers without the package.
export default {
  async fetch() {
    return Response.json({ ok: true });
  },
};
