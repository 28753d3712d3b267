/*
 * A small stand-in of MercadoPago.js v2, served by vitrine's fake Mercado Pago at /js/v2
 * (crates/vitrine-testkit/src/fakes/mercadopago.rs). Written for vitrine's tests; it is not
 * Mercado Pago's code. It offers the part of the SDK's surface a card form uses:
 *
 *   const mp = new MercadoPago(publicKey, { locale: "pt-BR" });
 *   await mp.createCardToken({ cardNumber, cardholderName, cardExpirationMonth,
 *     cardExpirationYear, securityCode, identificationType, identificationNumber })
 *     // → { id, first_six_digits, last_four_digits, expiration_month, expiration_year,
 *     //     cardholder, payment_method_id, issuer_id, ... }
 *   await mp.getPaymentMethods({ bin })      // → { paging, results: [{ id, name, payment_type_id, ... }] }
 *   await mp.getInstallments({ amount, bin }) // → [{ payment_method_id, issuer, payer_costs: [...] }]
 *
 * Every call goes to the origin the script was loaded from, with the public key in the
 * X-Public-Key header (the spec's publicKey scheme). A refusal rejects the promise with an
 * Error whose message is the API's and whose `status` and `cause` are the answer's.
 */
(function (global) {
  "use strict";

  var current = global.document && global.document.currentScript;
  var origin = current && current.src ? new URL(current.src).origin : global.location.origin;

  function digitsOf(value) {
    return String(value == null ? "" : value).replace(/[^0-9]/g, "");
  }

  function MercadoPago(publicKey, options) {
    if (!(this instanceof MercadoPago)) {
      throw new TypeError("MercadoPago must be called with new");
    }
    if (typeof publicKey !== "string" || publicKey.trim() === "") {
      throw new Error("MercadoPago: a public key is required");
    }
    this.publicKey = publicKey;
    this.locale = (options && options.locale) || "pt-BR";
  }

  MercadoPago.prototype._request = function (method, path, body) {
    var init = {
      method: method,
      headers: { "X-Public-Key": this.publicKey, Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(origin + path, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        if (!response.ok) {
          var error = new Error((data && data.message) || "Mercado Pago answered " + response.status);
          error.status = response.status;
          error.cause = (data && data.cause) || [];
          throw error;
        }
        return data;
      });
    });
  };

  MercadoPago.prototype.getPaymentMethods = function (params) {
    var bin = digitsOf(params && params.bin).slice(0, 8);
    if (bin.length < 6) {
      return Promise.reject(new Error("getPaymentMethods: bin needs the card's first 6 digits"));
    }
    return this._request("GET", "/v1/payment_methods/search?bin=" + encodeURIComponent(bin));
  };

  MercadoPago.prototype.getInstallments = function (params) {
    var self = this;
    var bin = digitsOf(params && params.bin).slice(0, 8);
    var amount = String(params && params.amount);
    if (!(Number(amount) > 0)) {
      return Promise.reject(new Error("getInstallments: amount must be a positive number"));
    }
    return self.getPaymentMethods({ bin: bin }).then(function (methods) {
      var method = methods && methods.results && methods.results[0];
      if (!method) {
        throw new Error("getInstallments: no card brand for this bin");
      }
      var query =
        "amount=" + encodeURIComponent(amount) +
        "&bin=" + encodeURIComponent(bin) +
        "&payment_method_id=" + encodeURIComponent(method.id);
      return self._request("GET", "/v1/payment_methods/installments?" + query);
    });
  };

  MercadoPago.prototype.createCardToken = function (card) {
    var self = this;
    card = card || {};
    var number = digitsOf(card.cardNumber);
    var body = {
      card_number: number,
      expiration_month: Number(card.cardExpirationMonth),
      expiration_year: Number(card.cardExpirationYear),
      security_code: digitsOf(card.securityCode),
      cardholder: { name: String(card.cardholderName || "").trim() },
    };
    if (body.expiration_year > 0 && body.expiration_year < 100) {
      body.expiration_year += 2000;
    }
    if (card.identificationType && card.identificationNumber) {
      body.cardholder.identification = {
        type: String(card.identificationType),
        number: digitsOf(card.identificationNumber),
      };
    }
    return self._request("POST", "/v1/card_tokens", body).then(function (token) {
      return self.getPaymentMethods({ bin: number.slice(0, 6) }).then(function (methods) {
        var method = methods && methods.results && methods.results[0];
        token.payment_method_id = method ? method.id : null;
        token.payment_type_id = method ? method.payment_type_id : null;
        token.issuer_id = method && method.issuer ? String(method.issuer.id) : null;
        return token;
      });
    });
  };

  global.MercadoPago = MercadoPago;
})(window);
