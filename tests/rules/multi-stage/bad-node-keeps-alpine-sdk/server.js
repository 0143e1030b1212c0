require("sharp");
