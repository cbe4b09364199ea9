<!DOCTYPE html>
<html <?php language_attributes(); ?>>
<head><meta charset="<?php bloginfo('charset'); ?>"><title><?php bloginfo('name'); ?></title><?php wp_head(); ?></head>
<body>
<h1><?php bloginfo('name'); ?></h1>
<?php if (have_posts()) : while (have_posts()) : the_post(); ?>
<article><h2><?php the_title(); ?></h2><?php the_content(); ?></article>
<?php endwhile; endif; ?>
<?php wp_footer(); ?>
</body>
</html>
