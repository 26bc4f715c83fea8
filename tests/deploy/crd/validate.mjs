// Validate custom resources against their CRD schemas, as compiled into the validators of the
// @kubernetes-models packages (generated from the upstream CRDs). Reads a JSON array of
// manifests on stdin; prints a JSON array with, for each, null (valid) or the schema errors.
import { readFileSync } from "node:fs";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = { "keda.sh/v1alpha1 ScaledObject": ScaledObject, "monitoring.coreos.com/v1 PodMonitor": PodMonitor };
const results = JSON.parse(readFileSync(0, "utf8")).map((doc) => {
  const Model = models[`${doc.apiVersion} ${doc.kind}`];
  if (!Model) return [`no CRD validator for ${doc.apiVersion} ${doc.kind}`];
  try {
    new Model(doc).validate();
    return null;
  } catch (error) {
    return (error.errors || [{ instancePath: "", message: String(error.message) }])
      .map((item) => `${item.instancePath || "/"} ${item.message}`);
  }
});
process.stdout.write(JSON.stringify(results));
