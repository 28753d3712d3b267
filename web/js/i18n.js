// Texts in Brazilian Portuguese (the default) and English, money and dates. The choice is kept
// in localStorage (a preference, not a secret). Money is always shown the Brazilian way,
// "R$ 1.234,56": prices are in reais whatever the language of the page.

const LANG_KEY = "vitrine.lang";

const pt = {
  "nav.skip": "Pular para o conteúdo",
  "nav.main": "Principal",
  "nav.home": "Início",
  "nav.catalog": "Catálogo",
  "nav.cart": "Carrinho",
  "nav.account": "Minha conta",
  "nav.signIn": "Entrar",
  "nav.signOut": "Sair",
  "nav.admin": "Administração",
  "nav.breadcrumbs": "Você está em",
  "search.label": "Buscar produtos",
  "search.placeholder": "Buscar produtos",
  "search.button": "Buscar",
  "footer.text": "Preços em reais (R$), com impostos.",
  "footer.contact": "Contato",
  "demo.banner": "Loja em modo de demonstração: nenhum pagamento é cobrado",
  "error.title": "Algo deu errado",
  "error.fields": "Confira os campos destacados.",
  "error.network": "Sem conexão com a loja. Verifique sua internet e tente de novo.",
  "error.server": "A loja não conseguiu responder agora. Tente de novo em instantes.",
  "error.notAuthorized": "E-mail ou senha incorretos.",
  "error.unauthenticated": "Sua sessão terminou. Entre de novo.",
  "error.forbidden": "Você não tem acesso a isto.",
  "error.codeMismatch": "Código incorreto ou expirado.",
  "error.tooMany": "Muitas tentativas. Tente de novo em {secs} segundos.",
  "error.outOfStock": "Estoque insuficiente do item {sku}: {n} disponível(is).",
  "error.unpaidOrders": "Você tem {n} pedidos aguardando pagamento; pague ou cancele um deles para fazer outro.",
  "error.unpaidUnits": "Seus pedidos aguardando pagamento já reservam {held} unidades e este pediria mais {wanted}; o limite é {max}. Pague ou cancele um pedido, ou peça menos unidades.",
  "error.conflict": "Conflito: {detail}",
  "error.versionMismatch": "Alterado por outra pessoa enquanto você editava. Recarregue e tente de novo.",
  "error.declined": "Pagamento recusado: {detail}",
  "error.notFound": "Não encontrado.",
  "error.validation": "Dados inválidos: {detail}",
  "error.rule": "Não é possível agora: {detail}",
  "error.notConfirmed": "Confirme seu e-mail antes de entrar.",
  "error.tooLarge": "O arquivo é grande demais.",
  "error.mediaType": "Tipo de arquivo não aceito.",
  "fieldError.cityNotInUf": "“{city}” não é um município de {uf}.",
  "fieldError.cityElsewhere": "Há um município com esse nome em {ufs}.",
  "fieldError.didYouMean": "Você quis dizer {names}?",
  "fieldError.cepNotInUf": "O CEP {cep} é de {cepUf}, não de {uf}.",
  "fieldError.cepNowhere": "O CEP {cep} não é de nenhum estado; confira os números.",
  "fieldError.savedAddress": "Corrija este endereço salvo (ou use outro): {problem}",
  "fieldError.couponPerCustomer": "Você já usou este cupom o máximo de vezes permitido ({limit}).",
  "home.title": "{shop} — loja virtual",
  "home.heading": "Bem-vindo à {shop}",
  "home.lead": "Roupas, acessórios e casa, com entrega para todo o Brasil e pagamento por Pix ou cartão.",
  "home.categories": "Categorias",
  "home.all": "Todos os produtos",
  "home.featured": "Novidades",
  "home.seeAll": "Ver todo o catálogo",
  "notFound.title": "Página não encontrada",
  "notFound.home": "Voltar ao início",
  "price.from": "a partir de ",
  "price.was": "de ",
  "price.now": " por ",
  "stock.in": "Em estoque",
  "stock.low": "Últimas {n} unidades",
  "stock.out": "Esgotado",
  "catalog.title": "Catálogo — {shop}",
  "catalog.titleSearch": "Busca: {q} — {shop}",
  "catalog.titleCategory": "{name} — {shop}",
  "catalog.heading": "Catálogo",
  "catalog.headingSearch": "Resultados para “{q}”",
  "catalog.filters": "Filtros e ordem",
  "catalog.words": "Palavras",
  "catalog.category": "Categoria",
  "catalog.allCategories": "Todas as categorias",
  "catalog.priceRange": "Preço (R$)",
  "catalog.minPrice": "Mínimo",
  "catalog.maxPrice": "Máximo",
  "catalog.sort": "Ordenar por",
  "catalog.apply": "Aplicar",
  "catalog.clear": "Limpar filtros",
  "catalog.results": "Produtos",
  "catalog.loading": "Carregando produtos…",
  "catalog.count": "{n} produtos nesta página (página {page})",
  "catalog.empty": "Nenhum produto encontrado.",
  "catalog.pages": "Páginas",
  "catalog.prev": "← Página anterior",
  "catalog.next": "Próxima página →",
  "catalog.total": "{n} resultados para “{q}”",
  "catalog.totalOne": "1 resultado para “{q}”",
  "catalog.pageOf": " — página {page}",
  "facet.categories": "Categorias",
  "facet.prices": "Faixa de preço",
  "facet.priceUpTo": "Até {max}",
  "facet.priceBetween": "{min} a {max}",
  "facet.priceFrom": "A partir de {min}",
  "facet.active": "Filtros aplicados",
  "facet.remove": "Remover o filtro ",
  "facet.selectedRemove": " — filtro aplicado; remover",
  "sort.relevance": "Relevância",
  "sort.newest": "Novidades",
  "sort.priceAsc": "Menor preço",
  "sort.priceDesc": "Maior preço",
  "sort.name": "Nome (A–Z)",
  "product.loading": "Carregando produto — {shop}",
  "product.title": "{name} — {shop}",
  "product.notFound": "Produto não encontrado",
  "product.notFoundText": "Este produto não existe ou não está mais à venda.",
  "product.quantity": "Quantidade",
  "product.add": "Adicionar ao carrinho",
  "product.added": "{n} × {name} ({option}) no carrinho.",
  "product.goToCart": "Ver carrinho",
  "product.combination": "Escolha uma combinação disponível.",
  "product.unavailable": "Combinação indisponível",
  "product.sku": "Código: {sku}",
  "product.description": "Descrição",
  "product.image": "Imagem {n} de {total}",
  "cart.title": "Carrinho — {shop}",
  "cart.heading": "Seu carrinho",
  "cart.loading": "Carregando o carrinho…",
  "cart.empty": "Seu carrinho está vazio.",
  "cart.browse": "Ver produtos",
  "cart.lines": "Itens",
  "cart.items": "{n} itens",
  "cart.quantity": "Quantidade",
  "cart.update": "Atualizar",
  "cart.remove": "Remover",
  "cart.removeNamed": "Remover {name}",
  "cart.unit": "{price} cada",
  "cart.notSold": "Fora de venda",
  "cart.summary": "Resumo",
  "cart.subtotal": "Subtotal",
  "cart.shippingLater": "O frete é calculado pelo CEP no próximo passo.",
  "cart.checkout": "Finalizar compra",
  "cart.continue": "Continuar comprando",
  "cart.updated": "Carrinho atualizado.",
  "cart.unavailableLines": "Há itens fora de venda: remova-os para continuar.",
  "auth.pageTitle": "{title} — {shop}",
  "auth.signInTitle": "Entrar",
  "auth.signUpTitle": "Criar conta",
  "auth.confirmTitle": "Confirme seu e-mail",
  "auth.resetTitle": "Esqueci minha senha",
  "auth.email": "E-mail",
  "auth.password": "Senha",
  "auth.name": "Nome completo",
  "auth.passwordRule": "De 8 a 256 caracteres, com ao menos uma letra e um número.",
  "auth.signIn": "Entrar",
  "auth.createAccount": "Criar conta",
  "auth.forgot": "Esqueci minha senha",
  "auth.newHere": "Primeira compra?",
  "auth.newHereText": "Crie sua conta: leva um minuto, e o seu carrinho vem junto.",
  "auth.haveAccount": "Já tem conta?",
  "auth.code": "Código de 6 dígitos",
  "auth.codeHint": "Enviamos o código para o seu e-mail.",
  "auth.confirm": "Confirmar",
  "auth.confirmText": "Digite o código que enviamos para o seu e-mail.",
  "auth.resend": "Reenviar código",
  "auth.codeResent": "Enviamos um novo código.",
  "auth.notConfirmed": "Seu e-mail ainda não foi confirmado.",
  "auth.enterCode": "Digitar o código",
  "auth.sendCode": "Enviar código",
  "auth.resetText": "Informe seu e-mail: enviaremos um código para criar uma nova senha.",
  "auth.resetSent": "Se o e-mail tiver cadastro, o código está a caminho.",
  "auth.resetStep2": "Nova senha",
  "auth.newPassword": "Nova senha",
  "auth.resetButton": "Salvar nova senha",
  "address.recipient": "Destinatário",
  "address.cep": "CEP",
  "address.cepHint": "Só números, por exemplo 01310-100.",
  "address.street": "Rua",
  "address.number": "Número",
  "address.complement": "Complemento (opcional)",
  "address.district": "Bairro",
  "address.city": "Cidade",
  "address.uf": "Estado (UF)",
  "address.chooseUf": "Escolha",
  "address.label": "Nome do endereço (opcional)",
  "address.labelExample": "casa, trabalho…",
  "checkout.title": "Finalizar compra — {shop}",
  "checkout.heading": "Finalizar compra",
  "checkout.loading": "Carregando…",
  "checkout.details": "Dados do pedido",
  "checkout.address": "Endereço de entrega",
  "checkout.newAddress": "Outro endereço",
  "checkout.saveAddress": "Salvar este endereço na minha conta",
  "checkout.shipping": "Frete",
  "checkout.enterCep": "Informe o CEP para ver as opções de frete.",
  "checkout.quoting": "Calculando o frete…",
  "checkout.noShipping": "Não entregamos neste CEP.",
  "checkout.days": "{n} dias úteis",
  "checkout.day": "1 dia útil",
  "checkout.free": "Grátis",
  "checkout.taxId": "CPF ou CNPJ",
  "checkout.taxIdHint": "Para a nota fiscal.",
  "checkout.coupon": "Cupom de desconto (opcional)",
  "checkout.couponHint": "O desconto aparece no pedido.",
  "checkout.couponLater": "Cupons são aplicados ao fazer o pedido.",
  "checkout.payment": "Pagamento",
  "checkout.pixText": "aprovação na hora, com QR Code ou “copia e cola”",
  "checkout.card": "Cartão de crédito",
  "checkout.cardText": "em até 12 vezes",
  "checkout.items": "Itens ({n})",
  "checkout.shippingCost": "Frete",
  "checkout.total": "Total",
  "checkout.place": "Fazer pedido",
  "checkout.editCart": "Alterar o carrinho",
  "checkout.chooseShipping": "Escolha uma opção de frete.",
  "order.title": "Pedido {id} — {shop}",
  "order.heading": "Pedido #{id}",
  "order.loading": "Carregando o pedido…",
  "order.notFound": "Pedido não encontrado",
  "order.notFoundText": "Não encontramos este pedido na sua conta.",
  "order.status": "Situação:",
  "order.liveOn": "Esta página se atualiza sozinha.",
  "order.liveOff": "Reconectando para atualizar a situação…",
  "order.items": "Itens",
  "order.product": "Produto",
  "order.qty": "Qtd.",
  "order.lineTotal": "Total",
  "order.history": "Histórico",
  "order.summary": "Valores",
  "order.discount": "Desconto {code}",
  "order.shipping": "Frete ({name})",
  "order.deliverTo": "Entrega",
  "order.placedAt": "Pedido feito em {when}",
  "order.paymentMethod": "Pagamento: {method}",
  "order.payBy": "Pague até {when}",
  "order.tracking": "Código de rastreio:",
  "order.invoice": "Nota fiscal",
  "order.invoiceKey": "Chave de acesso: {key}",
  "order.invoiceDownload": "Baixar a nota fiscal (XML)",
  "order.danfeDownload": "Baixar o DANFE (PDF)",
  "order.pay": "Pagamento",
  "order.payPix": "Pague com Pix",
  "order.payCard": "Pague com cartão",
  "order.preparingPayment": "Preparando o pagamento…",
  "order.pixQrAlt": "QR Code Pix para pagar {total}",
  "order.pixQrFailed": "QR Code indisponível: use o código “copia e cola”.",
  "order.pixSteps": "Abra o app do seu banco, escolha Pix e leia o QR Code — ou copie o código abaixo e cole em “Pix copia e cola”.",
  "order.pixCode": "Pix copia e cola",
  "order.copy": "Copiar código Pix",
  "order.copied": "Código copiado.",
  "order.pixAmount": "Valor: {total}",
  "order.pixExpires": "Válido até {when}",
  "order.pixTxid": "Identificador:",
  "order.autoUpdate": "Assim que o pagamento for confirmado, esta página mostra “Pago” — não precisa recarregar.",
  "order.paidThanks": "Pagamento confirmado. Obrigado pela compra!",
  "order.cancel": "Cancelar pedido",
  "order.cancelConfirm": "Cancelar este pedido? Os itens voltam ao estoque.",
  "order.cancelYes": "Sim, cancelar",
  "order.cancelNo": "Não",
  "order.cancelled": "Pedido cancelado.",
  "returns.title": "Desistência e devoluções",
  "returns.start": "Desistir da compra / devolver",
  "returns.until": "Você pode desistir da compra até {when}, sem precisar justificar além de um motivo (art. 49 do Código de Defesa do Consumidor).",
  "returns.quantity": "Quantidade de {name} a devolver",
  "returns.reason": "Motivo",
  "returns.submit": "Enviar pedido de devolução",
  "returns.back": "Voltar",
  "returns.sent": "Pedido de devolução enviado. Mandamos por e-mail como devolver os produtos.",
  "returns.chooseItem": "Escolha ao menos um item para devolver.",
  "returns.item": "Devolução pedida em {when}",
  "returns.amount": "Valor a devolver: {amount}",
  "returns.withShipping": "(inclui o frete)",
  "returns.refusal": "Motivo da recusa: {reason}",
  "returns.yourReason": "Seu motivo: {reason}",
  "returns.status.requested": "Aguardando os produtos",
  "returns.status.received": "Produtos recebidos",
  "returns.status.approved": "Aprovada — valor estornado",
  "returns.status.refused": "Recusada",
  "card.number": "Número do cartão",
  "card.sandbox": "Ambiente de testes: use 4111 1111 1111 1111.",
  "card.holder": "Nome impresso no cartão",
  "card.installments": "Parcelas",
  "card.planFree": "{n}× de {each} sem juros",
  "card.planInterest": "{n}× de {each} com juros (total {total})",
  "card.pay": "Pagar",
  "card.declined": "Cartão recusado: {reason}",
  "account.title": "Minha conta — {shop}",
  "account.heading": "Minha conta",
  "account.loading": "Carregando…",
  "account.hello": "Olá, {name}!",
  "account.orders": "Meus pedidos",
  "account.noOrders": "Você ainda não fez pedidos.",
  "account.moreOrders": "Mais pedidos",
  "account.profile": "Meus dados",
  "account.phone": "Celular (opcional)",
  "account.sms": "Quero receber avisos do pedido por SMS",
  "account.marketing": "Quero receber ofertas e novidades por e-mail",
  "account.marketing.given": "Consentimento dado em {date}.",
  "account.marketing.withdrawn": "Consentimento retirado em {date}.",
  "account.cartReminders": "Quero um lembrete por e-mail quando deixar itens no carrinho",
  "reminders.title": "Lembretes de carrinho — {shop}",
  "reminders.heading": "Lembretes de carrinho",
  "reminders.ask": "Não quer mais receber e-mails quando deixar itens no carrinho? Confirme abaixo.",
  "reminders.button": "Não quero mais lembretes de carrinho",
  "reminders.done": "Pronto: você não receberá mais lembretes de carrinho.",
  "reminders.invalid": "Este link não é válido. Abra o link do e-mail completo, ou desative os lembretes na sua conta.",
  "reminders.account": "Você também pode ligar e desligar os lembretes na sua conta.",
  "reminders.accountLink": "Ir para minha conta",
  "account.data.title": "Seus dados",
  "account.data.what": "Baixe uma cópia de tudo o que a loja guarda sobre você: cadastro, endereços, carrinho, pedidos, pagamentos (sem dados de cartão), notas fiscais e e-mails enviados (LGPD).",
  "account.data.download": "Baixar meus dados",
  "account.data.downloaded": "Arquivo meus-dados.json baixado.",
  "account.erase.title": "Excluir minha conta",
  "account.erase.what": "Seus dados pessoais são apagados e você não poderá mais entrar. Os pedidos ficam registrados como vendas, sem seus dados; notas fiscais já emitidas são guardadas pela loja, como a lei exige. Não é possível enquanto houver um pedido aguardando pagamento ou a caminho.",
  "account.erase.confirm": "Entendi e quero excluir minha conta",
  "account.erase.confirmFirst": "Marque a confirmação para excluir a conta.",
  "account.erase.button": "Excluir minha conta",
  "account.erase.signInAgain": "Por segurança, saia e entre de novo antes de excluir a conta (o acesso precisa ter menos de 15 minutos).",
  "account.erase.doneTitle": "Conta excluída",
  "account.erase.done": "Sua conta e seus dados pessoais foram excluídos.",
  "account.language": "Idioma dos e-mails",
  "account.save": "Salvar",
  "account.saved": "Dados salvos.",
  "account.addresses": "Endereços",
  "account.noAddresses": "Nenhum endereço salvo.",
  "account.newAddress": "Adicionar endereço",
  "account.addAddress": "Salvar endereço",
  "account.remove": "Remover",
  "account.removeAddress": "Remover o endereço {label}",
};

const en = {
  "nav.skip": "Skip to content",
  "nav.main": "Main",
  "nav.home": "Home",
  "nav.catalog": "Catalog",
  "nav.cart": "Cart",
  "nav.account": "My account",
  "nav.signIn": "Sign in",
  "nav.signOut": "Sign out",
  "nav.admin": "Admin",
  "nav.breadcrumbs": "You are here",
  "search.label": "Search products",
  "search.placeholder": "Search products",
  "search.button": "Search",
  "footer.text": "Prices in Brazilian reais (R$), taxes included.",
  "footer.contact": "Contact",
  "demo.banner": "Store in demo mode: no payment is charged",
  "error.title": "Something went wrong",
  "error.fields": "Check the highlighted fields.",
  "error.network": "The store cannot be reached. Check your connection and try again.",
  "error.server": "The store could not answer just now. Try again in a moment.",
  "error.notAuthorized": "Wrong e-mail or password.",
  "error.unauthenticated": "Your session ended. Please sign in again.",
  "error.forbidden": "You do not have access to this.",
  "error.codeMismatch": "Wrong or expired code.",
  "error.tooMany": "Too many attempts. Try again in {secs} seconds.",
  "error.outOfStock": "Not enough stock of {sku}: {n} available.",
  "error.unpaidOrders": "You have {n} orders awaiting payment; pay or cancel one of them to place another.",
  "error.unpaidUnits": "Your orders awaiting payment already reserve {held} units and this one would add {wanted}; the limit is {max}. Pay or cancel an order, or order fewer units.",
  "error.conflict": "Conflict: {detail}",
  "error.versionMismatch": "Someone else changed this while you were editing. Reload and try again.",
  "error.declined": "Payment declined: {detail}",
  "error.notFound": "Not found.",
  "error.validation": "Invalid data: {detail}",
  "error.rule": "Not possible now: {detail}",
  "error.notConfirmed": "Confirm your e-mail before signing in.",
  "error.tooLarge": "The file is too large.",
  "error.mediaType": "This kind of file is not accepted.",
  "fieldError.cityNotInUf": "“{city}” is not a municipality of {uf}.",
  "fieldError.cityElsewhere": "There is one with that name in {ufs}.",
  "fieldError.didYouMean": "Did you mean {names}?",
  "fieldError.cepNotInUf": "CEP {cep} is in {cepUf}, not in {uf}.",
  "fieldError.cepNowhere": "CEP {cep} belongs to no state; check the digits.",
  "fieldError.savedAddress": "Correct this saved address (or use another one): {problem}",
  "fieldError.couponPerCustomer": "You have used this coupon as many times as it allows ({limit}).",
  "home.title": "{shop} — online store",
  "home.heading": "Welcome to {shop}",
  "home.lead": "Clothes, accessories and homeware, delivered all over Brazil, paid with Pix or card.",
  "home.categories": "Categories",
  "home.all": "All products",
  "home.featured": "New in",
  "home.seeAll": "See the whole catalog",
  "notFound.title": "Page not found",
  "notFound.home": "Back to the home page",
  "price.from": "from ",
  "price.was": "was ",
  "price.now": " now ",
  "stock.in": "In stock",
  "stock.low": "Only {n} left",
  "stock.out": "Sold out",
  "catalog.title": "Catalog — {shop}",
  "catalog.titleSearch": "Search: {q} — {shop}",
  "catalog.titleCategory": "{name} — {shop}",
  "catalog.heading": "Catalog",
  "catalog.headingSearch": "Results for “{q}”",
  "catalog.filters": "Filters and order",
  "catalog.words": "Words",
  "catalog.category": "Category",
  "catalog.allCategories": "All categories",
  "catalog.priceRange": "Price (R$)",
  "catalog.minPrice": "Minimum",
  "catalog.maxPrice": "Maximum",
  "catalog.sort": "Sort by",
  "catalog.apply": "Apply",
  "catalog.clear": "Clear filters",
  "catalog.results": "Products",
  "catalog.loading": "Loading products…",
  "catalog.count": "{n} products on this page (page {page})",
  "catalog.empty": "No products found.",
  "catalog.pages": "Pages",
  "catalog.prev": "← Previous page",
  "catalog.next": "Next page →",
  "catalog.total": "{n} results for “{q}”",
  "catalog.totalOne": "1 result for “{q}”",
  "catalog.pageOf": " — page {page}",
  "facet.categories": "Categories",
  "facet.prices": "Price range",
  "facet.priceUpTo": "Up to {max}",
  "facet.priceBetween": "{min} to {max}",
  "facet.priceFrom": "{min} and over",
  "facet.active": "Applied filters",
  "facet.remove": "Remove the filter ",
  "facet.selectedRemove": " — applied filter; remove",
  "sort.relevance": "Relevance",
  "sort.newest": "Newest",
  "sort.priceAsc": "Lowest price",
  "sort.priceDesc": "Highest price",
  "sort.name": "Name (A–Z)",
  "product.loading": "Loading product — {shop}",
  "product.title": "{name} — {shop}",
  "product.notFound": "Product not found",
  "product.notFoundText": "This product does not exist or is no longer sold.",
  "product.quantity": "Quantity",
  "product.add": "Add to cart",
  "product.added": "{n} × {name} ({option}) in your cart.",
  "product.goToCart": "View cart",
  "product.combination": "Choose an available combination.",
  "product.unavailable": "Combination not available",
  "product.sku": "SKU: {sku}",
  "product.description": "Description",
  "product.image": "Image {n} of {total}",
  "cart.title": "Cart — {shop}",
  "cart.heading": "Your cart",
  "cart.loading": "Loading your cart…",
  "cart.empty": "Your cart is empty.",
  "cart.browse": "Browse products",
  "cart.lines": "Items",
  "cart.items": "{n} items",
  "cart.quantity": "Quantity",
  "cart.update": "Update",
  "cart.remove": "Remove",
  "cart.removeNamed": "Remove {name}",
  "cart.unit": "{price} each",
  "cart.notSold": "No longer sold",
  "cart.summary": "Summary",
  "cart.subtotal": "Subtotal",
  "cart.shippingLater": "Shipping is quoted by CEP in the next step.",
  "cart.checkout": "Check out",
  "cart.continue": "Continue shopping",
  "cart.updated": "Cart updated.",
  "cart.unavailableLines": "Some items are no longer sold: remove them to continue.",
  "auth.pageTitle": "{title} — {shop}",
  "auth.signInTitle": "Sign in",
  "auth.signUpTitle": "Create an account",
  "auth.confirmTitle": "Confirm your e-mail",
  "auth.resetTitle": "Forgot my password",
  "auth.email": "E-mail",
  "auth.password": "Password",
  "auth.name": "Full name",
  "auth.passwordRule": "8 to 256 characters, with at least one letter and one digit.",
  "auth.signIn": "Sign in",
  "auth.createAccount": "Create an account",
  "auth.forgot": "Forgot my password",
  "auth.newHere": "First time here?",
  "auth.newHereText": "Create an account: it takes a minute, and your cart comes along.",
  "auth.haveAccount": "Already have an account?",
  "auth.code": "6-digit code",
  "auth.codeHint": "We sent the code to your e-mail.",
  "auth.confirm": "Confirm",
  "auth.confirmText": "Type the code we sent to your e-mail.",
  "auth.resend": "Send the code again",
  "auth.codeResent": "We sent a new code.",
  "auth.notConfirmed": "Your e-mail is not confirmed yet.",
  "auth.enterCode": "Enter the code",
  "auth.sendCode": "Send code",
  "auth.resetText": "Tell us your e-mail: we will send a code to set a new password.",
  "auth.resetSent": "If the e-mail is registered, the code is on its way.",
  "auth.resetStep2": "New password",
  "auth.newPassword": "New password",
  "auth.resetButton": "Save the new password",
  "address.recipient": "Recipient",
  "address.cep": "CEP (postal code)",
  "address.cepHint": "Digits only, for example 01310-100.",
  "address.street": "Street",
  "address.number": "Number",
  "address.complement": "Complement (optional)",
  "address.district": "District",
  "address.city": "City",
  "address.uf": "State (UF)",
  "address.chooseUf": "Choose",
  "address.label": "Address name (optional)",
  "address.labelExample": "home, work…",
  "checkout.title": "Checkout — {shop}",
  "checkout.heading": "Checkout",
  "checkout.loading": "Loading…",
  "checkout.details": "Order details",
  "checkout.address": "Delivery address",
  "checkout.newAddress": "Another address",
  "checkout.saveAddress": "Save this address in my account",
  "checkout.shipping": "Shipping",
  "checkout.enterCep": "Enter the CEP to see the shipping options.",
  "checkout.quoting": "Quoting shipping…",
  "checkout.noShipping": "We do not deliver to this CEP.",
  "checkout.days": "{n} working days",
  "checkout.day": "1 working day",
  "checkout.free": "Free",
  "checkout.taxId": "CPF or CNPJ",
  "checkout.taxIdHint": "For the invoice.",
  "checkout.coupon": "Discount coupon (optional)",
  "checkout.couponHint": "The discount shows on the order.",
  "checkout.couponLater": "Coupons are applied when the order is placed.",
  "checkout.payment": "Payment",
  "checkout.pixText": "approved at once, with a QR code or “copia e cola”",
  "checkout.card": "Credit card",
  "checkout.cardText": "up to 12 installments",
  "checkout.items": "Items ({n})",
  "checkout.shippingCost": "Shipping",
  "checkout.total": "Total",
  "checkout.place": "Place order",
  "checkout.editCart": "Change the cart",
  "checkout.chooseShipping": "Choose a shipping option.",
  "order.title": "Order {id} — {shop}",
  "order.heading": "Order #{id}",
  "order.loading": "Loading the order…",
  "order.notFound": "Order not found",
  "order.notFoundText": "This order is not in your account.",
  "order.status": "Status:",
  "order.liveOn": "This page updates by itself.",
  "order.liveOff": "Reconnecting to update the status…",
  "order.items": "Items",
  "order.product": "Product",
  "order.qty": "Qty",
  "order.lineTotal": "Total",
  "order.history": "History",
  "order.summary": "Amounts",
  "order.discount": "Discount {code}",
  "order.shipping": "Shipping ({name})",
  "order.deliverTo": "Delivery",
  "order.placedAt": "Placed on {when}",
  "order.paymentMethod": "Payment: {method}",
  "order.payBy": "Pay by {when}",
  "order.tracking": "Tracking code:",
  "order.invoice": "Invoice",
  "order.invoiceKey": "Access key: {key}",
  "order.invoiceDownload": "Download the invoice (XML)",
  "order.danfeDownload": "Download the DANFE (PDF)",
  "order.pay": "Payment",
  "order.payPix": "Pay with Pix",
  "order.payCard": "Pay by card",
  "order.preparingPayment": "Preparing the payment…",
  "order.pixQrAlt": "Pix QR code to pay {total}",
  "order.pixQrFailed": "QR code unavailable: use the “copia e cola” code.",
  "order.pixSteps": "Open your bank's app, choose Pix and scan the QR code — or copy the code below and paste it in “Pix copia e cola”.",
  "order.pixCode": "Pix copia e cola",
  "order.copy": "Copy the Pix code",
  "order.copied": "Code copied.",
  "order.pixAmount": "Amount: {total}",
  "order.pixExpires": "Valid until {when}",
  "order.pixTxid": "Identifier:",
  "order.autoUpdate": "As soon as the payment is confirmed this page shows “Paid” — no need to reload.",
  "order.paidThanks": "Payment confirmed. Thank you!",
  "order.cancel": "Cancel order",
  "order.cancelConfirm": "Cancel this order? The items go back to stock.",
  "order.cancelYes": "Yes, cancel",
  "order.cancelNo": "No",
  "order.cancelled": "Order cancelled.",
  "returns.title": "Withdrawal and returns",
  "returns.start": "Withdraw from the purchase / return items",
  "returns.until": "You may withdraw from this purchase until {when}; just tell us why (Brazilian Consumer Protection Code, art. 49).",
  "returns.quantity": "Quantity of {name} to return",
  "returns.reason": "Reason",
  "returns.submit": "Send return request",
  "returns.back": "Back",
  "returns.sent": "Return request sent. We e-mailed you how to send the items back.",
  "returns.chooseItem": "Choose at least one item to return.",
  "returns.item": "Return requested on {when}",
  "returns.amount": "Amount to refund: {amount}",
  "returns.withShipping": "(shipping included)",
  "returns.refusal": "Why it was refused: {reason}",
  "returns.yourReason": "Your reason: {reason}",
  "returns.status.requested": "Waiting for the items",
  "returns.status.received": "Items received",
  "returns.status.approved": "Approved — refunded",
  "returns.status.refused": "Refused",
  "card.number": "Card number",
  "card.sandbox": "Test environment: use 4111 1111 1111 1111.",
  "card.holder": "Name on the card",
  "card.installments": "Installments",
  "card.planFree": "{n}× {each} interest-free",
  "card.planInterest": "{n}× {each} with interest (total {total})",
  "card.pay": "Pay",
  "card.declined": "Card declined: {reason}",
  "account.title": "My account — {shop}",
  "account.heading": "My account",
  "account.loading": "Loading…",
  "account.hello": "Hello, {name}!",
  "account.orders": "My orders",
  "account.noOrders": "You have no orders yet.",
  "account.moreOrders": "More orders",
  "account.profile": "My details",
  "account.phone": "Mobile phone (optional)",
  "account.sms": "Text me about my orders",
  "account.marketing": "Send me offers and news by e-mail",
  "account.marketing.given": "Consent given on {date}.",
  "account.marketing.withdrawn": "Consent withdrawn on {date}.",
  "account.cartReminders": "E-mail me a reminder when I leave items in my cart",
  "reminders.title": "Cart reminders — {shop}",
  "reminders.heading": "Cart reminders",
  "reminders.ask": "No more e-mails when you leave items in your cart? Confirm below.",
  "reminders.button": "Stop cart reminders",
  "reminders.done": "Done: you will get no more cart reminders.",
  "reminders.invalid": "This link is not valid. Open the whole link from the e-mail, or turn the reminders off in your account.",
  "reminders.account": "You can also turn the reminders on and off in your account.",
  "reminders.accountLink": "Go to my account",
  "account.data.title": "Your data",
  "account.data.what": "Download a copy of everything the shop keeps about you: profile, addresses, cart, orders, payments (no card data), invoices and the e-mails sent (LGPD).",
  "account.data.download": "Download my data",
  "account.data.downloaded": "meus-dados.json downloaded.",
  "account.erase.title": "Delete my account",
  "account.erase.what": "Your personal data is erased and you can no longer sign in. Orders stay on record as sales, without your data; invoices already issued are kept by the shop, as the law requires. Not possible while an order awaits payment or is on its way.",
  "account.erase.confirm": "I understand and want to delete my account",
  "account.erase.confirmFirst": "Tick the confirmation to delete the account.",
  "account.erase.button": "Delete my account",
  "account.erase.signInAgain": "For your safety, sign out and in again before deleting the account (the sign-in must be less than 15 minutes old).",
  "account.erase.doneTitle": "Account deleted",
  "account.erase.done": "Your account and your personal data were erased.",
  "account.language": "Language of e-mails",
  "account.save": "Save",
  "account.saved": "Details saved.",
  "account.addresses": "Addresses",
  "account.noAddresses": "No saved addresses.",
  "account.newAddress": "Add an address",
  "account.addAddress": "Save address",
  "account.remove": "Remove",
  "account.removeAddress": "Remove the address {label}",
};

const dictionaries = { "pt-BR": pt, en };

const STATUS = {
  "pt-BR": {
    pending_payment: "Aguardando pagamento",
    paid: "Pago",
    invoiced: "Faturado",
    shipped: "Enviado",
    delivered: "Entregue",
    cancelled: "Cancelado",
    expired: "Expirado",
    payment_failed: "Pagamento recusado",
  },
  en: {
    pending_payment: "Awaiting payment",
    paid: "Paid",
    invoiced: "Invoiced",
    shipped: "Shipped",
    delivered: "Delivered",
    cancelled: "Cancelled",
    expired: "Expired",
    payment_failed: "Payment failed",
  },
};

/** Every order status, in lifecycle order. */
export const STATUSES = ["pending_payment", "paid", "invoiced", "shipped", "delivered", "cancelled", "expired", "payment_failed"];

let current = localStorage.getItem(LANG_KEY) === "en" ? "en" : "pt-BR";

export function lang() {
  return current;
}

export function setLang(l) {
  current = l === "en" ? "en" : "pt-BR";
  localStorage.setItem(LANG_KEY, current);
}

export function applyDocumentLang() {
  document.documentElement.lang = current;
}

/** Add texts (the admin's) to both dictionaries. */
export function addStrings(more) {
  Object.assign(pt, more["pt-BR"]);
  Object.assign(en, more.en);
}

/** The text for `key` in the current language, with {name} placeholders filled. */
// The shop's name as its look says (GET /api/v1/shop, web/js/shop.js): `{shop}` in any text.
let shopName = "vitrine";

/** The shop's name. */
export function currentShopName() {
  return shopName;
}

/** Name the shop in the texts from now on. */
export function setShopName(name) {
  if (name) shopName = name;
}

export function t(key, vars) {
  const text = dictionaries[current][key] ?? pt[key] ?? key;
  const all = { shop: shopName, ...vars };
  return text.replace(/\{(\w+)\}/g, (m, name) => (all[name] === undefined || all[name] === null ? m : String(all[name])));
}

export function statusLabel(status) {
  return STATUS[current][status] || status;
}

const brl = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });

/** 123456 → "R$ 1.234,56" */
export function money(centavos) {
  return brl.format((Number(centavos) || 0) / 100);
}

/** 123456 → "1.234,56" (for inputs) */
export function moneyInput(centavos) {
  return (centavos / 100).toLocaleString("pt-BR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** "1.234,56", "1234.56", "R$ 49,9" → centavos; null when it is not an amount. */
export function parseMoney(text) {
  let s = String(text).replace(/[^\d.,-]/g, "");
  if (!s || s === "-") return null;
  const lastComma = s.lastIndexOf(",");
  const lastDot = s.lastIndexOf(".");
  let decimal = null;
  if (lastComma > lastDot) decimal = ",";
  else if (lastDot > lastComma) {
    // "1.234" is a thousand in Brazil; "12.5" or "12.50" is a decimal.
    const tail = s.length - lastDot - 1;
    decimal = tail === 3 && lastComma < 0 && s.indexOf(".") === lastDot ? null : ".";
  }
  let intPart = s;
  let frac = "";
  if (decimal) {
    const at = s.lastIndexOf(decimal);
    intPart = s.slice(0, at);
    frac = s.slice(at + 1);
  }
  intPart = intPart.replace(/[.,]/g, "");
  if (!/^-?\d*$/.test(intPart) || !/^\d{0,2}$/.test(frac)) return null;
  const value = Number(intPart || "0") * 100 + Number((frac + "00").slice(0, 2));
  return Number.isFinite(value) ? value : null;
}

const tz = "America/Sao_Paulo";

export function dateTime(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(current, { dateStyle: "short", timeStyle: "short", timeZone: tz }).format(new Date(iso));
}

export function date(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(current, { dateStyle: "short", timeZone: tz }).format(new Date(iso));
}

/** "2026-11-28" (a calendar day) → "28/11" */
export function shortDate(day) {
  const [y, m, d] = String(day).split("-");
  return current === "en" ? `${m}/${d}` : `${d}/${m}`;
}

/** "A, B ou C" (`type` "disjunction") or "A, B e C" ("conjunction") in the current language. */
function list(items, type) {
  try {
    return new Intl.ListFormat(current, { type }).format(items);
  } catch {
    return items.join(", ");
  }
}

/**
 * The text of one field error of a validation problem: the server's message (English), or, for
 * the problems it gives a `code` and `params` (an address no invoice could carry: a city that
 * is not a municipality of the UF, a CEP outside it), the same said in the current language.
 */
export function fieldErrorText(e) {
  const p = e.params || {};
  let text;
  switch (e.code) {
    case "city-not-in-uf":
      text = [
        t("fieldError.cityNotInUf", p),
        p.found_in?.length ? t("fieldError.cityElsewhere", { ufs: list(p.found_in, "conjunction") }) : null,
        p.suggestions?.length ? t("fieldError.didYouMean", { names: list(p.suggestions, "disjunction") }) : null,
      ]
        .filter(Boolean)
        .join(" ");
      break;
    case "cep-not-in-uf":
      text = p.cep_uf ? t("fieldError.cepNotInUf", { cep: p.cep, uf: p.uf, cepUf: p.cep_uf }) : t("fieldError.cepNowhere", p);
      break;
    case "coupon-per-customer-limit":
      return t("fieldError.couponPerCustomer", p);
    default:
      return e.message;
  }
  return e.field === "address_id" ? t("fieldError.savedAddress", { problem: text }) : text;
}

/** A message for the person, from an API error. */
export function errorText(err) {
  if (!err) return t("error.title");
  const p = err.problem || {};
  switch (err.type) {
    case "network":
      return t("error.network");
    case "not-authorized":
      return t("error.notAuthorized");
    case "unauthenticated":
      return t("error.unauthenticated");
    case "forbidden":
      return t("error.forbidden");
    case "code-mismatch":
      return t("error.codeMismatch");
    case "not-confirmed":
      return t("error.notConfirmed");
    case "too-many-requests":
      return t("error.tooMany", { secs: (p.detail || "").replace(/\D/g, "") || "60" });
    case "out-of-stock":
      return t("error.outOfStock", { sku: p.sku || "", n: p.available ?? 0 });
    case "unpaid-limit":
      return p.code === "too-many-unpaid-units"
        ? t("error.unpaidUnits", { held: p.held ?? 0, wanted: p.wanted ?? 0, max: p.max ?? 0 })
        : t("error.unpaidOrders", { n: p.held ?? p.max ?? 0 });
    case "version-mismatch":
      return t("error.versionMismatch");
    case "payment-declined":
      return t("error.declined", { detail: p.detail || "" });
    case "not-found":
      return t("error.notFound");
    case "conflict":
      return t("error.conflict", { detail: p.detail || "" });
    case "rule":
      return t("error.rule", { detail: p.detail || "" });
    case "validation": {
      // Problems the store words itself are said in the page's language.
      const errors = p.errors || [];
      const worded = errors.length && errors.every((e) => e.code);
      return t("error.validation", { detail: worded ? errors.map(fieldErrorText).join(" ") : p.detail || "" });
    }
    case "payload-too-large":
      return t("error.tooLarge");
    case "unsupported-media-type":
      return t("error.mediaType");
    default:
      if (err.status >= 500) return t("error.server");
      return p.detail || err.message || t("error.title");
  }
}
