//! The words generated catalogs are made of (`catalog_gen`), which the search benchmark
//! (`load search`) asks for.

pub const NOUNS: [&str; 16] = [
    "Camiseta",
    "Caneca",
    "Calça",
    "Vestido",
    "Jaqueta",
    "Toalha",
    "Almofada",
    "Caderno",
    "Caneta",
    "Tênis",
    "Sandália",
    "Bolsa",
    "Óculos",
    "Relógio",
    "Vela",
    "Prato",
];
pub const MATERIALS: [&str; 8] = [
    "de Algodão",
    "de Linho",
    "de Cerâmica",
    "de Couro",
    "de Poliéster",
    "de Bambu",
    "de Vidro",
    "de Lã",
];
pub const ADJECTIVES: [&str; 10] = [
    "Básica",
    "Estampada",
    "Clássica",
    "Artesanal",
    "Listrada",
    "Orgânica",
    "Térmica",
    "Infantil",
    "Esportiva",
    "Elegante",
];
pub const COLOURS: [&str; 6] = ["Azul", "Preto", "Branco", "Verde", "Vermelho", "Areia"];
