import { h } from "../dom.js";
import { t } from "../i18n.js";

export function render(main) {
  document.title = t("notFound.title");
  main.append(
    h("div", { class: "wrap" }, h("h1", null, t("notFound.title")), h("p", null, h("a", { href: "#/" }, t("notFound.home")))),
  );
}
