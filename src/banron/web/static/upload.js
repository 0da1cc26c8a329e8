// Evidence upload: send the files (upload progress), then follow the ingest job until it ends.
"use strict";
(function () {
  const { t, el, csrf, request } = window.banron;
  const job = document.getElementById("job");
  const form = document.getElementById("upload-form");
  if (!job) return;
  const bar = document.getElementById("job-progress");
  const label = document.getElementById("job-label");
  const count = document.getElementById("job-count");
  const errorsBox = document.getElementById("job-errors");
  const errorList = document.getElementById("job-error-list");
  const done = document.getElementById("job-done");
  const link = document.getElementById("job-link");

  function show(data) {
    job.hidden = false;
    label.textContent = t("kb_status_" + data.status);
    if (data.total !== null && data.total !== undefined) {
      bar.max = Math.max(1, data.total);
      bar.value = Math.min(data.done, data.total);
      count.textContent = t("kb_embedded", { done: data.done, total: data.total });
    } else {
      bar.removeAttribute("value"); // indeterminate while files are read
    }
    errorList.replaceChildren(
      ...data.errors.map((e) => el("li", {}, [el("strong", { text: e.file || "?" }), ": " + e.message]))
    );
    errorsBox.hidden = data.errors.length === 0;
    if (data.status === "done" || data.status === "failed") {
      if (data.status === "done") {
        bar.max = 1;
        bar.value = 1;
        const r = data.report || {};
        count.textContent = t("kb_report", {
          added: r.documents_added || 0,
          updated: r.documents_updated || 0,
          unchanged: r.documents_unchanged || 0,
          passages: r.passages_written || 0,
        });
      }
      link.href = "/teacher/kb/" + encodeURIComponent(data.kb);
      done.hidden = false;
      return true;
    }
    return false;
  }

  async function follow(jobId) {
    for (;;) {
      const res = await request("GET", "/api/ingest/" + encodeURIComponent(jobId));
      if (!res.ok) {
        label.textContent = t("error_generic");
        return;
      }
      if (show(res.data)) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  if (job.dataset.job) follow(job.dataset.job);

  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const kb = form.elements.kb.value.trim();
      const data = new FormData();
      for (const file of form.elements.files.files) data.append("files", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/kbs/" + encodeURIComponent(kb) + "/upload");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      job.hidden = false;
      done.hidden = true;
      errorsBox.hidden = true;
      label.textContent = t("kb_sending");
      bar.max = 1;
      bar.value = 0;
      count.textContent = "";
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) {
          bar.max = e.total;
          bar.value = e.loaded;
        }
      });
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (e) {
          body = null;
        }
        if (xhr.status === 202 && body) {
          show(body);
          follow(body.id);
        } else if (xhr.status === 413) {
          label.textContent = t("kb_too_large");
        } else if (body && body.code === "bad_kb") {
          label.textContent = t("kb_bad_name");
        } else {
          label.textContent = t("error_generic");
        }
      });
      xhr.addEventListener("error", () => {
        label.textContent = t("error_network");
      });
      xhr.send(data);
    });
  }
})();
